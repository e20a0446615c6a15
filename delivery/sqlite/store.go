package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/sqlitepath"
)

// Config configures a Store.
type Config struct {
	// Path is the database file. It is created when missing; its
	// directory must exist. Required.
	Path string
	// Now is the clock the store reads for every time it writes or
	// compares. Nil means time.Now. Every process sharing the file must
	// read the same clock (they run on one host).
	Now func() time.Time
	// BusyTimeout is how long a write waits for another connection or
	// process holding the write lock before it fails. Zero means 5s;
	// negative is an error.
	BusyTimeout time.Duration
	// History bounds the attempts each record keeps (Record.History),
	// trimmed by the statement that settles each attempt. The zero value
	// means delivery's defaults (10 attempts, 32 KiB).
	History delivery.History
}

// Store is a delivery.Store in one SQLite file. Several Stores, in one
// process or in several processes on one host, may share the file: every
// write runs in a BEGIN IMMEDIATE transaction, so writers take turns and a
// claim sees every lease another process holds. It is safe for concurrent
// use; open it with Open (or OpenDB, on your own *sql.DB) and release it
// with Close.
type Store struct {
	db      *sql.DB // writes: BEGIN IMMEDIATE, one connection
	reads   *sql.DB // reads: deferred transactions, which WAL runs beside a writer
	path    string
	now     func() time.Time
	notify  chan struct{}
	history delivery.History

	// shared is set by OpenDB: db and reads are the caller's handle, which
	// Close leaves open and whose transactions may be deferred, so every
	// write transaction starts with a write (see lockFirst).
	shared bool
	// file is the main database's file as SQLite reports it, to refuse a
	// caller's transaction on another database.
	file string
	// writing holds a token while one of this Store's write transactions
	// runs on a shared handle: its writes take turns in process, as Open's
	// single connection makes them, instead of many connections polling
	// for the file's lock under the busy timeout.
	writing chan struct{}
}

var (
	_ delivery.Store    = (*Store)(nil)
	_ delivery.Notifier = (*Store)(nil)
	_ delivery.NextDuer = (*Store)(nil)
)

// Open opens (creating when missing) the outbox in cfg.Path, switches it
// to WAL mode, and creates or upgrades its schema. It returns an error,
// and changes nothing on disk, when the path's directory does not exist,
// the file is read-only or not a SQLite database, or the database was
// written by a newer version of this package (ErrNewerSchema); it never
// replaces an existing file with an empty outbox.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := checkPath(cfg.Path); err != nil {
		return nil, err
	}
	busy := cfg.BusyTimeout
	switch {
	case busy < 0:
		return nil, fmt.Errorf("sqlite: busy timeout %v is negative: %w", busy, delivery.ErrInvalid)
	case busy == 0:
		busy = 5 * time.Second
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)", busy.Milliseconds())
	db, err := sql.Open("sqlite", cfg.Path+"?_txlock=immediate&"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", cfg.Path, err)
	}
	// One writing connection per Store: its writes are serialised in
	// process without busy waits.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: cfg.Path, now: now, notify: make(chan struct{}, 1), history: cfg.History.WithDefaults()}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	// Reads (Get, List, Stats, Destinations, NextDue) never take the
	// write lock, so an operator's dashboard cannot hold workers back.
	reads, err := sql.Open("sqlite", cfg.Path+"?"+pragmas)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", cfg.Path, err)
	}
	reads.SetMaxOpenConns(2)
	s.reads = reads
	if s.file, err = mainFile(ctx, reads); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", cfg.Path, err)
	}
	return s, nil
}

// checkPath returns an error naming what is wrong with path (see
// sqlitepath.Check); one for a path wrong in itself wraps
// delivery.ErrInvalid.
func checkPath(path string) error {
	err := sqlitepath.Check(path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sqlitepath.ErrBadPath):
		return fmt.Errorf("sqlite: %w: %w", err, delivery.ErrInvalid)
	}
	return fmt.Errorf("sqlite: %w", err)
}

// Close closes the database, unless the Store came from OpenDB: the
// caller's handle stays open. Records stay in the file.
func (s *Store) Close() error {
	if s.shared {
		return nil
	}
	if err := errors.Join(s.reads.Close(), s.db.Close()); err != nil {
		return fmt.Errorf("sqlite: close %q: %w", s.path, err)
	}
	return nil
}

// Notify returns a channel that receives a value after this Store stores at
// least one new record, moves records back to pending (Redrive, RetryNow)
// or resumes a destination. Settling records never signals it. Only writes
// through this Store signal: another process's inserts are found by the
// dispatcher's polling.
func (s *Store) Notify() <-chan struct{} { return s.notify }

// signal wakes a waiting dispatcher without blocking.
func (s *Store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// inTx runs fn in a BEGIN IMMEDIATE transaction and commits it, or rolls it
// back when fn fails.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if !s.shared {
		return runTx(ctx, s.db, nil, fn)
	}
	select {
	case s.writing <- struct{}{}:
		defer func() { <-s.writing }()
	case <-ctx.Done():
		return fmt.Errorf("sqlite: begin: %w", ctx.Err())
	}
	return runTx(ctx, s.db, nil, func(tx *sql.Tx) error {
		// The caller's handle may begin deferred transactions: a write
		// first takes the write lock before anything is read, as BEGIN
		// IMMEDIATE would, so a later write cannot fail on a stale
		// snapshot.
		if _, err := tx.ExecContext(ctx, lockFirst); err != nil {
			return fmt.Errorf("sqlite: take the write lock: %w", err)
		}
		return fn(tx)
	})
}

// lockFirst is a write that changes nothing.
const lockFirst = `UPDATE outbox_counters SET value = value WHERE name = 'seq'`

// inReadTx runs fn in a deferred transaction: a consistent snapshot that
// takes no write lock.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	// Read-only: the driver begins it deferred even on a handle whose DSN
	// asks for immediate transactions (OpenDB's), so it waits for no
	// writer.
	return runTx(ctx, s.reads, readOnly, fn)
}

// readOnly begins a deferred, read-only transaction.
var readOnly = &sql.TxOptions{ReadOnly: true}

// runTx runs fn in a transaction begun with opts on db, and commits it, or
// rolls it back when fn fails.
func runTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

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
	return time.Unix(0, n).UTC()
}
