package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// e2eOutbound is outbound's stack of the end-to-end comparison: the
// PostgreSQL store of the durable comparison and a Dispatcher whose
// deliverer is httpdelivery behind a circuit breaker.
type e2eOutbound struct {
	q      *outboundQueue
	client *http.Client
	cfg    delivery.DispatcherConfig
	obs    *settlements
}

func openE2EOutbound(ctx context.Context, cfg E2EConfig, target string) (e2eStack, error) {
	q, err := openOutbound(ctx, cfg.PG)
	if err != nil {
		return nil, err
	}
	s := &e2eOutbound{q: q.(*outboundQueue)}
	if err := s.setUp(ctx, cfg, target); err != nil {
		return nil, errors.Join(err, s.close(context.WithoutCancel(ctx)))
	}
	return s, nil
}

func (s *e2eOutbound) setUp(ctx context.Context, cfg E2EConfig, target string) error {
	if err := s.q.Insert(ctx, cfg.Records, 1000); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	var err error
	s.client, err = httpclient.New(httpclient.Config{MaxConnsPerHost: cfg.Concurrency})
	if err != nil {
		return err
	}
	send, err := httpdelivery.New(httpdelivery.Config{Client: s.client, Build: httpdelivery.PostTo(target, "application/json")})
	if err != nil {
		return err
	}
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{
		Name:                "partner",
		ConsecutiveFailures: E2EBreakerFailures,
		FailureRatio:        -1, // trips on failures in a row only, as the gobreaker of the River row
		OpenTimeout:         E2EBreakerOpen,
	})
	if err != nil {
		return err
	}
	s.obs = &settlements{want: int64(cfg.Records), done: make(chan struct{})}
	s.cfg = delivery.DispatcherConfig{
		Store:     s.q.store,
		Deliverer: delivery.Chain(send, delivery.WithBreaker(breaker)),
		Policy: retry.Policy{
			Backoff:     retry.Exponential{Initial: E2ERetryBase, Max: E2ERetryCap, Factor: E2ERetryFactor},
			MaxAttempts: E2EMaxAttempts,
		},
		Concurrency:    cfg.Concurrency,
		AttemptTimeout: cfg.AttemptTimeout,
		Observer:       s.obs,
	}
	return nil
}

// settlements counts the records the dispatcher settled for good:
// delivered, or given up (dead-lettered, discarded).
type settlements struct {
	want          int64
	settled, dead atomic.Int64
	failed        atomic.Pointer[error]
	once          sync.Once
	done          chan struct{}
}

func (c *settlements) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if e.StoreErr != nil {
		if errors.Is(e.StoreErr, delivery.ErrLeaseLost) {
			return // another worker holds the record; its outcome counts
		}
		err := fmt.Errorf("record %s: action %v: store: %w", e.Record.ID, e.Action, e.StoreErr)
		c.failed.CompareAndSwap(nil, &err)
		c.once.Do(func() { close(c.done) })
		return
	}
	switch e.Action {
	case delivery.ActionDelivered, delivery.ActionDuplicate:
	case delivery.ActionDeadLetter, delivery.ActionDiscard:
		c.dead.Add(1)
	default:
		return // retried, deferred or released: not settled yet
	}
	if c.settled.Add(1) >= c.want {
		c.once.Do(func() { close(c.done) })
	}
}

func (c *settlements) ObserveRun(context.Context, delivery.Report) {}

func (s *e2eOutbound) run(ctx context.Context) (int, error) {
	d, err := delivery.NewDispatcher(s.cfg)
	if err != nil {
		return 0, err
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(runCtx) }()
	select {
	case <-s.obs.done:
	case <-ctx.Done():
	}
	stop()
	runErr := <-ran
	if p := s.obs.failed.Load(); p != nil {
		return 0, *p
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%d of %d settled: %w", s.obs.settled.Load(), s.obs.want, err)
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return 0, runErr
	}
	st, err := s.q.store.Stats(ctx)
	if err != nil {
		return 0, err
	}
	if n := st.Count(delivery.StateDelivered) + st.Count(delivery.StateDead) + st.Count(delivery.StateDiscarded); n != s.obs.want {
		return 0, fmt.Errorf("the store holds %d records as settled, the dispatcher reported %d", n, s.obs.want)
	}
	return int(s.obs.dead.Load()), nil
}

func (s *e2eOutbound) close(ctx context.Context) error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return s.q.Close(ctx)
}
