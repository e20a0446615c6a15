package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// OpenDB returns a Store on the caller's *sql.DB, opened on a file with the
// modernc.org/sqlite driver ("sqlite") or github.com/ncruces/go-sqlite3's
// ("sqlite3"), for an application that keeps its own tables in the same
// file and enqueues in its own transactions (EnqueueSQLTx), or that is
// already on ncruces (see the package documentation, The driver). It
// creates or upgrades the outbox's tables (all prefixed outbox_) as Open
// does, and switches the file to WAL mode. cfg.Now is the clock; cfg.Path
// and cfg.BusyTimeout must be zero: the file and the busy timeout are the
// handle's, and the handle's DSN should set both a busy timeout and
// immediate transactions, such as
// "file:app.db?_txlock=immediate&_pragma=busy_timeout(5000)" (ncruces
// reads these parameters only from a file: URI). The Store's own write
// transactions take the write lock first whatever the DSN says. A process
// must not also open the file through the other driver.
//
// It returns an error wrapping delivery.ErrInvalid for a nil db, a db that
// is not SQLite, an in-memory database, or a connection without a busy
// timeout; ErrNewerSchema for a newer schema; and the database's error
// otherwise. Close leaves db open: the caller closes it, after the Store's
// last use.
func OpenDB(ctx context.Context, db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("sqlite: OpenDB: nil *sql.DB: %w", delivery.ErrInvalid)
	}
	if cfg.Path != "" || cfg.BusyTimeout != 0 {
		return nil, fmt.Errorf("sqlite: OpenDB: Config.Path and Config.BusyTimeout belong to the *sql.DB's DSN, leave them empty: %w", delivery.ErrInvalid)
	}
	var version string
	if err := db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
		return nil, fmt.Errorf("sqlite: OpenDB: the *sql.DB does not answer as SQLite (sqlite_version()): %v: %w", err, delivery.ErrInvalid)
	}
	file, err := mainFile(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("sqlite: OpenDB: %w", err)
	}
	if file == "" {
		return nil, fmt.Errorf("sqlite: OpenDB: the database is in memory, not a file; the outbox must survive the process: %w", delivery.ErrInvalid)
	}
	var busy int64
	if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
		return nil, fmt.Errorf("sqlite: OpenDB %q: busy timeout: %w", file, err)
	}
	if busy <= 0 {
		return nil, fmt.Errorf("sqlite: OpenDB %q: the connection has no busy timeout, so a write fails at once while another holds the lock; add _pragma=busy_timeout(5000) to the DSN: %w", file, delivery.ErrInvalid)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return nil, fmt.Errorf("sqlite: OpenDB %q: WAL mode: %w", file, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("sqlite: OpenDB %q: the file stays in journal mode %q, not WAL", file, mode)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, reads: db, path: file, file: file, now: now, notify: make(chan struct{}, 1), shared: true, writing: make(chan struct{}, 1), history: cfg.History.WithDefaults()}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// mainFile returns the file of the main database of q's connection, ""
// for an in-memory or temporary database.
func mainFile(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (string, error) {
	var file string
	if err := q.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		return "", fmt.Errorf("database file: %w", err)
	}
	return file, nil
}
