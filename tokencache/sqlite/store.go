package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/outbound-go/outbound/internal/sqlitepath"
	"github.com/outbound-go/outbound/tokencache"
)

// DefaultTable is the table used when Config.Table is empty.
const DefaultTable = "outbound_tokens"

// DefaultBusyTimeout is how long a write waits for another process's
// write lock when Config.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// identifier is what Config.Table accepts.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Config configures a Store. Only Path is required.
type Config struct {
	// Path is the database file, shared by the processes of one host. It
	// is created when missing; its directory must exist. It may be the
	// file of the delivery/sqlite outbox, or any file of the application:
	// the store touches only its table.
	Path string
	// Table is the table that holds tokens and locks, one row per key. It
	// must be a lower-case identifier (a letter or underscore, then
	// letters, digits or underscores, at most 63 bytes). Empty means
	// DefaultTable.
	Table string
	// BusyTimeout is how long a write waits for another connection or
	// process holding the write lock. Zero means DefaultBusyTimeout;
	// negative is an error.
	BusyTimeout time.Duration
	// Now is the clock that lock expiries are written and compared on.
	// Nil means time.Now; every process on the file must read the same
	// clock, which processes on one host do.
	Now func() time.Time
}

// Store is a tokencache.Store in a SQLite file, so that the processes of
// one host (a deploy overlapping the old and the new one, a cron job and a
// service) share one token and mint it once between them. It is safe for
// concurrent use; open it with Open and release it with Close.
//
// Errors never contain token values: statements are parameterised, and
// SQLite's messages name columns and constraints, never values.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time

	load, save, cad, lock, unlock string
}

// Open opens (creating when missing) the file in cfg.Path in WAL mode and
// creates the token table if it does not exist. It returns an error for an
// empty path, a path whose directory does not exist, a file that is
// read-only or not a SQLite database, a bad table name or a negative busy
// timeout; it never replaces an existing file.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := sqlitepath.Check(cfg.Path); err != nil {
		return nil, fmt.Errorf("tokencache/sqlite: %w", err)
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if !identifier.MatchString(table) {
		return nil, fmt.Errorf("tokencache/sqlite: Config.Table %q is not a lower-case identifier (letters, digits, underscores, at most 63 bytes, not starting with a digit)", table)
	}
	busy := cfg.BusyTimeout
	switch {
	case busy < 0:
		return nil, fmt.Errorf("tokencache/sqlite: Config.BusyTimeout %v is negative", busy)
	case busy == 0:
		busy = DefaultBusyTimeout
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	dsn := fmt.Sprintf("%s?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)", cfg.Path, busy.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("tokencache/sqlite: open %q: %w", cfg.Path, err)
	}
	t := `"` + table + `"`
	s := &Store{
		db: db, path: cfg.Path, now: now,
		load: `SELECT value, token_type, issued_at, expires_at FROM ` + t + ` WHERE key = ? AND value IS NOT NULL`,
		save: `INSERT INTO ` + t + ` (key, value, token_type, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, token_type = excluded.token_type,
				issued_at = excluded.issued_at, expires_at = excluded.expires_at`,
		cad: `UPDATE ` + t + ` SET value = NULL, token_type = '', issued_at = 0, expires_at = 0 WHERE key = ? AND value = ?`,
		// The lock is taken if it is free or expired; one statement under
		// the file's write lock, so exactly one of concurrent callers wins.
		lock: `INSERT INTO ` + t + ` (key, lock_owner, lock_expires_at) VALUES (?1, ?2, ?3 + ?4)
			ON CONFLICT (key) DO UPDATE SET lock_owner = excluded.lock_owner, lock_expires_at = excluded.lock_expires_at
			WHERE lock_owner IS NULL OR lock_expires_at <= ?3`,
		unlock: `UPDATE ` + t + ` SET lock_owner = NULL, lock_expires_at = 0 WHERE key = ? AND lock_owner = ?`,
	}
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+t+` (
		key             TEXT PRIMARY KEY,
		value           TEXT,
		token_type      TEXT NOT NULL DEFAULT '',
		issued_at       INTEGER NOT NULL DEFAULT 0,
		expires_at      INTEGER NOT NULL DEFAULT 0,
		lock_owner      TEXT,
		lock_expires_at INTEGER NOT NULL DEFAULT 0
	)`)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("tokencache/sqlite: open %q: create table: %w", cfg.Path, err)
	}
	return s, nil
}

// Close closes the database; the tokens stay in the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("tokencache/sqlite: close %q: %w", s.path, err)
	}
	return nil
}

// Load returns the token stored under key, or an error wrapping
// tokencache.ErrNotFound.
func (s *Store) Load(ctx context.Context, key string) (tokencache.Token, error) {
	if key == "" {
		return tokencache.Token{}, errEmptyKey
	}
	var (
		tok             tokencache.Token
		issued, expires int64
	)
	err := s.db.QueryRowContext(ctx, s.load, key).Scan(&tok.Value, &tok.Type, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return tokencache.Token{}, tokencache.ErrNotFound
	}
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("tokencache/sqlite: load: %w", err)
	}
	tok.IssuedAt, tok.Expiry = fromNanos(issued), fromNanos(expires)
	return tok, nil
}

// Save stores tok under key, replacing any token there and leaving the
// lock alone.
func (s *Store) Save(ctx context.Context, key string, tok tokencache.Token) error {
	if key == "" {
		return errEmptyKey
	}
	if _, err := s.db.ExecContext(ctx, s.save, key, tok.Value, tok.Type, nanos(tok.IssuedAt), nanos(tok.Expiry)); err != nil {
		return fmt.Errorf("tokencache/sqlite: save: %w", err)
	}
	return nil
}

// CompareAndDelete clears the token under key if its value is value, in one
// statement, and reports whether it did.
func (s *Store) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	res, err := s.db.ExecContext(ctx, s.cad, key, value)
	if err != nil {
		return false, fmt.Errorf("tokencache/sqlite: compare and delete: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("tokencache/sqlite: compare and delete: %w", err)
	}
	return n == 1, nil
}

// TryLock takes the lock for key for ttl if it is free or expired, and
// reports whether it did.
func (s *Store) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	if ttl < time.Millisecond {
		return false, errors.New("tokencache/sqlite: lock ttl must be at least 1ms")
	}
	res, err := s.db.ExecContext(ctx, s.lock, key, owner, s.now().UnixNano(), ttl.Nanoseconds())
	if err != nil {
		return false, fmt.Errorf("tokencache/sqlite: lock: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("tokencache/sqlite: lock: %w", err)
	}
	return n == 1, nil
}

// Unlock releases the lock for key if owner holds it.
func (s *Store) Unlock(ctx context.Context, key, owner string) error {
	if key == "" {
		return errEmptyKey
	}
	if _, err := s.db.ExecContext(ctx, s.unlock, key, owner); err != nil {
		return fmt.Errorf("tokencache/sqlite: unlock: %w", err)
	}
	return nil
}

var errEmptyKey = errors.New("tokencache/sqlite: key is empty")

// nanos encodes t as unix nanoseconds, the zero time as 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos decodes a time written by nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
