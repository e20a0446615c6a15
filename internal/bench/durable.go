package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The durable comparison inserts no-op jobs into PostgreSQL in batches and
// then works them, each queue in a fresh schema of the same database with
// a pool of its own of the same size. A job is worked when its completion
// is committed, not when its handler returns.

// DurablePoolSize is the connection pool size each durable queue gets:
// enough for 16 workers plus the queue's own housekeeping.
const DurablePoolSize = 24

// Queue is a durable job queue under comparison, open on its own fresh
// schema.
type Queue interface {
	// Insert enqueues n no-op jobs, batch per call, and returns once they
	// are committed, or the first error.
	Insert(ctx context.Context, n, batch int) error
	// Work runs the queue's workers with the given concurrency until n
	// jobs have been completed and their completion committed, then stops
	// them and returns. It returns an error if a job failed, the queue
	// failed, or ctx ended first.
	Work(ctx context.Context, n, workers int) error
	// Completed counts the jobs the database holds as completed.
	Completed(ctx context.Context) (int, error)
	// Close stops the queue, drops its schema and closes its pool.
	Close(ctx context.Context) error
}

// DurableContender is a queue library under comparison.
type DurableContender struct {
	// Name is the row's label in the table.
	Name string
	// Ours marks outbound's own rows: never the best peer a row is
	// compared with.
	Ours bool
	// Open creates the queue's schema in the database at url, migrated
	// and empty, or returns an error.
	Open func(ctx context.Context, url string) (Queue, error)
}

// DurableContenders returns the queues compared, ours first: outbound's
// PostgreSQL store and dispatcher (with its defaults, then with claims
// committed without waiting for the disk: Config.AsyncClaimCommit), the
// same dispatcher on outbound's SQLite store (a file in a temporary
// directory: the database server is not used, for comparison with a
// service that has none), River inserting with InsertMany (INSERT, like
// ours, returning the rows), and River inserting with InsertManyFast (COPY
// FROM, returning only a count).
func DurableContenders() []DurableContender {
	return []DurableContender{
		{Name: "outbound postgres + Dispatcher", Open: openOutbound, Ours: true},
		{Name: "outbound postgres, AsyncClaimCommit", Open: openOutboundAsyncClaims, Ours: true},
		{Name: "outbound sqlite + Dispatcher", Open: openSQLite, Ours: true},
		{Name: "River (InsertMany)", Open: func(ctx context.Context, url string) (Queue, error) { return openRiver(ctx, url, false) }},
		{Name: "River (InsertManyFast, COPY)", Open: func(ctx context.Context, url string) (Queue, error) { return openRiver(ctx, url, true) }},
	}
}

// Rate is a number of jobs done in a time.
type Rate struct {
	Jobs    int
	Elapsed time.Duration
}

// PerSecond returns the jobs per second, or 0 for an empty Rate.
func (r Rate) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Jobs) / r.Elapsed.Seconds()
}

// DurableResult is what RunDurable measured for one contender.
type DurableResult struct {
	// Insert is the insert rate over every insert RunDurable made.
	Insert Rate
	// Work is the work rate per concurrency.
	Work map[int]Rate
}

// DurableConfig says how much work RunDurable does.
type DurableConfig struct {
	// URL is the PostgreSQL database. Required.
	URL string
	// Jobs is how many jobs are inserted and then worked, once per
	// concurrency. Required, positive.
	Jobs int
	// Batch is how many jobs go in one insert call. Zero means 1,000.
	Batch int
	// Concurrency lists the worker counts to work with. Empty means 1 and
	// 16.
	Concurrency []int
}

// RunDurable opens c on a fresh schema and, for each concurrency in cfg,
// inserts cfg.Jobs jobs (timed) and works them all (timed), then checks
// that the database holds every job as completed and drops the schema. It
// returns the first error of any step.
func RunDurable(ctx context.Context, c DurableContender, cfg DurableConfig) (DurableResult, error) {
	if cfg.URL == "" || cfg.Jobs <= 0 {
		return DurableResult{}, fmt.Errorf("bench: DurableConfig needs a URL and positive Jobs, got %d jobs", cfg.Jobs)
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if len(cfg.Concurrency) == 0 {
		cfg.Concurrency = []int{1, 16}
	}
	q, err := c.Open(ctx, cfg.URL)
	if err != nil {
		return DurableResult{}, fmt.Errorf("bench: %s: open: %w", c.Name, err)
	}
	res, err := runDurable(ctx, q, cfg)
	if cerr := q.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("bench: %s: %w", c.Name, err)
	}
	return res, nil
}

func runDurable(ctx context.Context, q Queue, cfg DurableConfig) (DurableResult, error) {
	res := DurableResult{Work: map[int]Rate{}}
	for i, workers := range cfg.Concurrency {
		start := time.Now()
		if err := q.Insert(ctx, cfg.Jobs, cfg.Batch); err != nil {
			return res, fmt.Errorf("insert: %w", err)
		}
		res.Insert.Jobs += cfg.Jobs
		res.Insert.Elapsed += time.Since(start)

		start = time.Now()
		if err := q.Work(ctx, cfg.Jobs, workers); err != nil {
			return res, fmt.Errorf("work with %d workers: %w", workers, err)
		}
		res.Work[workers] = Rate{Jobs: cfg.Jobs, Elapsed: time.Since(start)}

		done, err := q.Completed(ctx)
		if err != nil {
			return res, fmt.Errorf("count completed: %w", err)
		}
		if want := (i + 1) * cfg.Jobs; done != want {
			return res, fmt.Errorf("after working with %d workers the database holds %d completed jobs, want %d", workers, done, want)
		}
	}
	return res, nil
}

// jobPayload is the body of job i: the same JSON for every queue.
func jobPayload(i int) []byte {
	return append(strconv.AppendInt([]byte(`{"n":`), int64(i), 10), '}')
}

// newPool opens a pool of DurablePoolSize connections to url.
func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = DurablePoolSize
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// schemaName returns a fresh schema name: prefix and random hex.
func schemaName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// dropSchema drops schema and everything in it.
func dropSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
