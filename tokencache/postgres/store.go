package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/tokencache"
)

// DefaultTable is the table used when Config.Table is empty.
const DefaultTable = "outbound_tokens"

// identifier is what Config.Table accepts for each dot-separated part:
// lower-case, so that the quoted name means what an unquoted one would.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Config configures a Store. The zero value is usable.
type Config struct {
	// Table is the table that holds tokens and locks, one row per key,
	// optionally schema-qualified ("tokens" or "app.tokens"). Each part
	// must be a lower-case identifier: a letter or underscore, then
	// letters, digits or underscores, at most 63 bytes. The schema must
	// exist; Migrate creates the table. Empty means DefaultTable in the
	// connection's search path.
	Table string
}

// Store is a tokencache.Store in a PostgreSQL table, shared by every
// process that uses the same table. Locks expire by the database's clock,
// so processes on hosts with skewed clocks still agree.
//
// A Store is safe for concurrent use. Errors never contain token values:
// PostgreSQL errors are reduced to their message and SQLSTATE, since their
// detail can quote a row.
type Store struct {
	pool  *pgxpool.Pool
	table string // quoted, ready to interpolate

	load, save, cad, lock, unlock, create string
}

// New returns a Store using pool and the table named in cfg. It returns an
// error if pool is nil or cfg.Table is not a valid name. It does not touch
// the database; call Migrate once to create the table.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("tokencache/postgres: New: pool is nil")
	}
	name := cfg.Table
	if name == "" {
		name = DefaultTable
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("tokencache/postgres: Config.Table %q has more than one dot", name)
	}
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return nil, fmt.Errorf("tokencache/postgres: Config.Table %q: %q is not a lower-case identifier (letters, digits, underscores, at most 63 bytes, not starting with a digit)", name, p)
		}
	}
	t := pgx.Identifier(parts).Sanitize()
	return &Store{
		pool:  pool,
		table: t,
		create: `CREATE TABLE IF NOT EXISTS ` + t + ` (
			key             text PRIMARY KEY,
			value           text,
			token_type      text NOT NULL DEFAULT '',
			issued_at       timestamptz,
			expires_at      timestamptz,
			lock_owner      text,
			lock_expires_at timestamptz
		)`,
		load: `SELECT value, token_type, issued_at, expires_at FROM ` + t + ` WHERE key = $1 AND value IS NOT NULL`,
		save: `INSERT INTO ` + t + ` (key, value, token_type, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, token_type = EXCLUDED.token_type,
				issued_at = EXCLUDED.issued_at, expires_at = EXCLUDED.expires_at`,
		cad: `UPDATE ` + t + ` SET value = NULL, token_type = '', issued_at = NULL, expires_at = NULL
			WHERE key = $1 AND value = $2`,
		// The row's lock is taken if it is free or expired, by the
		// database's clock; concurrent inserts of a new key serialise on
		// the primary key, so exactly one wins.
		lock: `INSERT INTO ` + t + ` AS cur (key, lock_owner, lock_expires_at)
			VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 microsecond')
			ON CONFLICT (key) DO UPDATE SET lock_owner = EXCLUDED.lock_owner, lock_expires_at = EXCLUDED.lock_expires_at
			WHERE cur.lock_owner IS NULL OR cur.lock_expires_at <= clock_timestamp()`,
		unlock: `UPDATE ` + t + ` SET lock_owner = NULL, lock_expires_at = NULL WHERE key = $1 AND lock_owner = $2`,
	}, nil
}

// Migrate creates the table if it does not exist. It is idempotent and safe
// to run from several processes at once. It returns the database's error,
// for example when the schema does not exist.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return dbError("migrate", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Concurrent CREATE TABLE IF NOT EXISTS can still collide in the
	// catalog; serialise migrations of this table.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "outbound/tokencache "+s.table); err != nil {
		return dbError("migrate", err)
	}
	if _, err := tx.Exec(ctx, s.create); err != nil {
		return dbError("migrate", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return dbError("migrate", err)
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
		issued, expires *time.Time
	)
	err := s.pool.QueryRow(ctx, s.load, key).Scan(&tok.Value, &tok.Type, &issued, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return tokencache.Token{}, tokencache.ErrNotFound
	}
	if err != nil {
		return tokencache.Token{}, dbError("load", err)
	}
	if issued != nil {
		tok.IssuedAt = *issued
	}
	if expires != nil {
		tok.Expiry = *expires
	}
	return tok, nil
}

// Save stores tok under key, replacing any token there and leaving the
// lock alone.
func (s *Store) Save(ctx context.Context, key string, tok tokencache.Token) error {
	if key == "" {
		return errEmptyKey
	}
	if _, err := s.pool.Exec(ctx, s.save, key, tok.Value, tok.Type, nullTime(tok.IssuedAt), nullTime(tok.Expiry)); err != nil {
		return dbError("save", err)
	}
	return nil
}

// CompareAndDelete clears the token under key if its value is value, in one
// statement, and reports whether it did.
func (s *Store) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	tag, err := s.pool.Exec(ctx, s.cad, key, value)
	if err != nil {
		return false, dbError("compare and delete", err)
	}
	return tag.RowsAffected() == 1, nil
}

// TryLock takes the lock for key for ttl if it is free or expired, and
// reports whether it did.
func (s *Store) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	if ttl < time.Millisecond {
		return false, errors.New("tokencache/postgres: lock ttl must be at least 1ms")
	}
	tag, err := s.pool.Exec(ctx, s.lock, key, owner, ttl.Microseconds())
	if err != nil {
		return false, dbError("lock", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Unlock releases the lock for key if owner holds it.
func (s *Store) Unlock(ctx context.Context, key, owner string) error {
	if key == "" {
		return errEmptyKey
	}
	if _, err := s.pool.Exec(ctx, s.unlock, key, owner); err != nil {
		return dbError("unlock", err)
	}
	return nil
}

var errEmptyKey = errors.New("tokencache/postgres: key is empty")

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// dbError names the operation and keeps server errors to their message and
// code: a PgError's Detail can quote the row, token value included.
func dbError(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("tokencache/postgres: %s: %s (SQLSTATE %s)", op, pgErr.Message, pgErr.Code)
	}
	return fmt.Errorf("tokencache/postgres: %s: %w", op, err)
}
