package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
)

// Store is a delivery.Store in a PostgreSQL table, shared by every process
// that points at the same schema and table. It is safe for concurrent use.
// Create it with New, create its schema with Migrate, and Close it to stop
// the listening connection that Notify starts.
type Store struct {
	cfg        Config
	pool       *pgxpool.Pool
	now        func() time.Time // the caller's clock: Config.Now, or time.Now
	dbClock    bool             // compare and write times on the database's clock (Config.Now unset)
	n          names
	q          queries
	migrations []migration

	// redriveBatch is how many records RedriveMatching moves per
	// transaction.
	redriveBatch int
	// exactSettledMax is how many delivered and discarded records Stats
	// counts exactly before it estimates; the stats query is rendered for
	// it.
	exactSettledMax int

	// gc queues settles for group commit.
	gc groupCommit

	// dests remembers destinations whose row is known to be committed.
	dests knownDestinations

	// copyMin is the smallest batch enqueued with COPY; copies counts
	// those batches (a test hook).
	copyMin int
	copies  atomic.Int64

	notify     chan struct{}
	listenOnce sync.Once
	listener   *listener
	closeOnce  sync.Once
	closed     chan struct{}
}

var (
	_ delivery.Store    = (*Store)(nil)
	_ delivery.Notifier = (*Store)(nil)
	_ delivery.NextDuer = (*Store)(nil)

	_ delivery.TxEnqueuer[pgx.Tx] = (*Store)(nil)
)

// querier is what the store needs from a pool, a connection or a caller's
// transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// redriveBatch is how many records RedriveMatching moves per transaction:
// large enough that the commits cost little next to the work, small enough
// that locks are short and memory is bounded.
const redriveBatch = 1000

// New returns a Store for cfg. It validates cfg (the error wraps ErrConfig
// and names the field) but does not touch the database: call Migrate
// before first use.
func New(cfg Config) (*Store, error) {
	dbClock := cfg.Now == nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := newNames(cfg.Schema, cfg.Table)
	ms, err := loadMigrations(n)
	if err != nil {
		return nil, err
	}
	return &Store{
		cfg:             cfg,
		pool:            cfg.Pool,
		now:             cfg.Now,
		dbClock:         dbClock,
		n:               n,
		q:               buildQueries(n),
		migrations:      ms,
		redriveBatch:    redriveBatch,
		copyMin:         defaultCopyMin,
		exactSettledMax: exactSettledMax,
		notify:          make(chan struct{}, 1),
		closed:          make(chan struct{}),
	}, nil
}

// Close stops the listening connection started by Notify and waits for it
// to end. It does not close the pool. It is safe to call more than once;
// the store's other methods keep working after it, but Notify is no longer
// signalled.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.listenOnce.Do(func() {}) // a later Notify must not start a listener
		if s.listener != nil {
			s.listener.stop()
		}
	})
	return nil
}

// Name returns the outbox table's qualified name, schema.table.
func (s *Store) Name() string { return s.n.raw }

// signal wakes one waiter on Notify without blocking: the channel holds at
// most one pending signal, so many inserts coalesce into one wake-up.
func (s *Store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}
