package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// RiverFetchCooldown is the FetchCooldown River clients get here: River's
// minimum. River's default (100ms between fetches) caps a single worker
// at about ten jobs a second, which would measure a setting, not the queue.
const RiverFetchCooldown = river.FetchCooldownMin

// noopArgs is the River job: the same payload as outbound's records.
type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// riverQueue is River on riverpgxv5 in a schema of its own.
type riverQueue struct {
	pool    *pgxpool.Pool
	schema  string
	fast    bool // insert with InsertManyFast (COPY)
	workers *river.Workers
	insert  *river.Client[pgx.Tx] // insert-only client
	seq     int
}

func openRiver(ctx context.Context, url string, fast bool) (Queue, error) {
	pool, err := newPool(ctx, url)
	if err != nil {
		return nil, err
	}
	q := &riverQueue{pool: pool, schema: schemaName("bench_river"), fast: fast, workers: river.NewWorkers()}
	if err := q.open(ctx); err != nil {
		return nil, errors.Join(err, q.Close(context.WithoutCancel(ctx)))
	}
	return q, nil
}

func (q *riverQueue) open(ctx context.Context) error {
	if err := migrateRiver(ctx, q.pool, q.schema); err != nil {
		return err
	}
	if err := river.AddWorkerSafely(q.workers, &noopWorker{}); err != nil {
		return err
	}
	var err error
	q.insert, err = river.NewClient(riverpgxv5.New(q.pool), &river.Config{
		Schema: q.schema, Workers: q.workers, Logger: riverLogger(),
	})
	return err
}

func (q *riverQueue) Insert(ctx context.Context, n, batch int) error {
	params := make([]river.InsertManyParams, 0, batch)
	for n > 0 {
		params = params[:0]
		for range min(n, batch) {
			q.seq++
			params = append(params, river.InsertManyParams{Args: noopArgs{N: q.seq}})
		}
		var err error
		if q.fast {
			_, err = q.insert.InsertManyFast(ctx, params)
		} else {
			_, err = q.insert.InsertMany(ctx, params)
		}
		if err != nil {
			return err
		}
		n -= len(params)
	}
	return nil
}

func (q *riverQueue) Work(ctx context.Context, n, workers int) error {
	c, err := river.NewClient(riverpgxv5.New(q.pool), &river.Config{
		Schema:        q.schema,
		Workers:       q.workers,
		Logger:        riverLogger(),
		FetchCooldown: RiverFetchCooldown,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
	})
	if err != nil {
		return err
	}
	// A buffer for every event: a full channel drops events.
	events, cancel := c.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: n + 1000,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed},
	})
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return err
	}
	var workErr error
	for done := 0; done < n && workErr == nil; {
		select {
		case e := <-events:
			if e.Kind != river.EventKindJobCompleted || e.Job.State != rivertype.JobStateCompleted {
				workErr = fmt.Errorf("job %d: event %s, state %s", e.Job.ID, e.Kind, e.Job.State)
			}
			done++
		case <-ctx.Done():
			workErr = fmt.Errorf("%d of %d completed: %w", done, n, ctx.Err())
		}
	}
	return errors.Join(workErr, c.Stop(context.WithoutCancel(ctx)))
}

func (q *riverQueue) Completed(ctx context.Context) (int, error) {
	var n int
	err := q.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{q.schema, "river_job"}.Sanitize()+" WHERE state = 'completed'").Scan(&n)
	return n, err
}

func (q *riverQueue) Close(ctx context.Context) error {
	err := dropSchema(ctx, q.pool, q.schema)
	q.pool.Close()
	return err
}
