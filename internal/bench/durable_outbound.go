package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// storeQueue is an outbound store worked by a delivery.Dispatcher with a
// no-op deliverer; the store's kind opens and closes it.
type storeQueue struct {
	store delivery.Store
	seq   int
}

// outboundQueue is outbound's PostgreSQL store as a storeQueue.
type outboundQueue struct {
	storeQueue
	pool   *pgxpool.Pool
	schema string
	pg     *postgres.Store
}

func openOutbound(ctx context.Context, url string) (Queue, error) {
	return openOutboundWith(ctx, url, postgres.Config{})
}

// openOutboundAsyncClaims is openOutbound with Config.AsyncClaimCommit.
func openOutboundAsyncClaims(ctx context.Context, url string) (Queue, error) {
	return openOutboundWith(ctx, url, postgres.Config{AsyncClaimCommit: true})
}

// openOutboundWith opens outbound's PostgreSQL store with cfg, its Pool
// and Schema set here.
func openOutboundWith(ctx context.Context, url string, cfg postgres.Config) (Queue, error) {
	pool, err := newPool(ctx, url)
	if err != nil {
		return nil, err
	}
	q := &outboundQueue{pool: pool, schema: schemaName("bench_outbound")}
	cfg.Pool, cfg.Schema = pool, q.schema
	q.pg, err = postgres.New(cfg)
	if err == nil {
		q.store = q.pg
		err = q.pg.Migrate(ctx)
	}
	if err != nil {
		return nil, errors.Join(err, q.Close(context.WithoutCancel(ctx)))
	}
	return q, nil
}

func (q *storeQueue) Insert(ctx context.Context, n, batch int) error {
	msgs := make([]delivery.Message, 0, batch)
	for n > 0 {
		msgs = msgs[:0]
		for range min(n, batch) {
			q.seq++
			msgs = append(msgs, delivery.Message{Payload: jobPayload(q.seq)})
		}
		if _, err := q.store.Enqueue(ctx, msgs...); err != nil {
			return err
		}
		n -= len(msgs)
	}
	return nil
}

// completions counts the records whose delivery was written to the store.
type completions struct {
	want   int64
	n      atomic.Int64
	failed atomic.Pointer[error]
	once   sync.Once
	done   chan struct{}
}

func (c *completions) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if e.Action == delivery.ActionRelease && e.StoreErr == nil {
		// Given back unattempted at shutdown (the run's ctx ended): still
		// pending, not a failure; Work reports the ctx's end.
		return
	}
	if e.Action != delivery.ActionDelivered || e.StoreErr != nil {
		err := fmt.Errorf("record %s: action %v: %w", e.Record.ID, e.Action, errors.Join(e.Err, e.StoreErr))
		c.failed.CompareAndSwap(nil, &err)
		c.once.Do(func() { close(c.done) })
		return
	}
	if c.n.Add(1) >= c.want {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *completions) ObserveRun(context.Context, delivery.Report) {}

func (q *storeQueue) Work(ctx context.Context, n, workers int) error {
	obs := &completions{want: int64(n), done: make(chan struct{})}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:       q.store,
		Deliverer:   delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
		Concurrency: workers,
		Observer:    obs,
	})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(runCtx) }()
	select {
	case <-obs.done:
	case <-ctx.Done():
	}
	stop()
	runErr := <-ran
	if p := obs.failed.Load(); p != nil {
		return *p
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%d of %d delivered: %w", obs.n.Load(), n, err)
	}
	return runErr
}

func (q *storeQueue) Completed(ctx context.Context) (int, error) {
	st, err := q.store.Stats(ctx)
	if err != nil {
		return 0, err
	}
	return int(st.Count(delivery.StateDelivered)), nil
}

func (q *outboundQueue) Close(ctx context.Context) error {
	var err error
	if q.pg != nil {
		err = q.pg.Close()
	}
	err = errors.Join(err, dropSchema(ctx, q.pool, q.schema))
	q.pool.Close()
	return err
}
