package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/health"
)

// A real health monitor gates a real dispatcher: while the partner's health
// check fails, nothing is attempted and nothing dies; once it passes again
// (after the monitor's success threshold) the backlog drains.
func TestMonitorGatesDispatcherEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var partnerUp atomic.Bool
		var probes atomic.Int64
		mon, err := health.NewMonitor(health.MonitorConfig{
			Name: "partner",
			Checker: health.CheckerFunc(func(context.Context) error {
				probes.Add(1)
				if partnerUp.Load() {
					return nil
				}
				return errors.New("health endpoint: 503")
			}),
			Interval: 30 * time.Second, FailureThreshold: 3, SuccessThreshold: 2,
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, mon.Start(ctx))

		store := memstore.New(memstore.Config{})
		for i := range 200 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%03d", i), Payload: pl("x")})
		}
		sc := newScript()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Gate: mon, Concurrency: 4})
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(6 * time.Hour)
		synctest.Wait()
		assert.Empty(t, sc.seen, "no attempts while the partner is down")
		st, _ := store.Stats(context.Background())
		assert.EqualValues(t, 200, st.Count(delivery.StatePending))
		assert.LessOrEqual(t, probes.Load(), int64(6*time.Hour/(30*time.Second))+2, "probes follow the interval, not the traffic")

		partnerUp.Store(true)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		st, _ = store.Stats(context.Background())
		assert.EqualValues(t, 200, st.Count(delivery.StateDelivered))
		for _, id := range []string{"r-000", "r-199"} {
			assert.Equal(t, 1, get(t, store, id).Attempts, "one attempt each: the outage cost none")
		}
		cancel()
		require.NoError(t, <-done)
		mon.Stop()
	})
}

func TestWithBreakerDefersInsteadOfHammering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner", ConsecutiveFailures: 3, OpenTimeout: time.Minute})
		require.NoError(t, err)
		var calls atomic.Int64
		down := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			calls.Add(1)
			return &classify.Error{Class: classify.ClassEphemeral, Status: 503}
		})
		store := memstore.New(memstore.Config{})
		for i := range 20 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: delivery.Chain(down, delivery.WithBreaker(br))})
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 3, calls.Load(), "the breaker opens after 3 failures and shields the partner")
		assert.Equal(t, 3, rep.Retried)
		assert.Contains(t, []int{1, 2}, rep.Deferred, "the record refused and one claimed ahead wait without spending an attempt")
		assert.Equal(t, rep.Retried+rep.Deferred, rep.Claimed, "the destination is paused: the rest wait unclaimed")
		assert.Equal(t, health.BreakerOpen, br.State())
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, delivery.DestinationPaused, ds[0].Status)
		assert.Equal(t, "breaker_open", ds[0].Cause)
	})
}

func TestWithGateAndBreakersMiddleware(t *testing.T) {
	ok := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
	closed := delivery.GateFunc(func(context.Context) error {
		return &classify.Error{Class: classify.ClassUnavailable, RetryAfter: time.Minute}
	})
	err := delivery.Chain(ok, delivery.WithGate(closed)).Deliver(context.Background(), &delivery.Message{})
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	assert.NoError(t, delivery.Chain(ok, delivery.WithGate(nil)).Deliver(context.Background(), &delivery.Message{}))

	bs, err := health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{ConsecutiveFailures: 1, OpenTimeout: time.Hour}})
	require.NoError(t, err)
	failing := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		if m.Destination == "bad" {
			return classify.Ephemeral(errors.New("reset"))
		}
		return nil
	})
	d := delivery.Chain(failing, delivery.WithBreakers(bs, nil))
	ctx := context.Background()
	assert.Equal(t, classify.ClassEphemeral, classify.Of(d.Deliver(ctx, &delivery.Message{Destination: "bad"})))
	assert.Equal(t, classify.ClassUnavailable, classify.Of(d.Deliver(ctx, &delivery.Message{Destination: "bad"})), "open for bad")
	assert.NoError(t, d.Deliver(ctx, &delivery.Message{Destination: "good"}), "one breaker per destination")
}

// A health.Gate (monitor and breaker together) as the dispatcher's gate:
// once the breaker opens on real failures, the backlog waits for the
// breaker's hint without spending attempts, and drains after one half-open
// probe succeeds.
func TestHealthGateDefersDispatcherWhileBreakerIsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const openTimeout = 10 * time.Minute
		mon, err := health.NewMonitor(health.MonitorConfig{
			Name:    "partner",
			Checker: health.CheckerFunc(func(context.Context) error { return nil }), // its health endpoint says up
		})
		require.NoError(t, err)
		br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner", ConsecutiveFailures: 3, OpenTimeout: openTimeout})
		require.NoError(t, err)
		gate, err := health.NewGate(health.GateConfig{Monitor: mon, Breaker: br})
		require.NoError(t, err)

		var partnerDown atomic.Bool
		partnerDown.Store(true)
		var mu sync.Mutex
		var calls []string
		partner := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
			mu.Lock()
			calls = append(calls, m.ID)
			mu.Unlock()
			if partnerDown.Load() {
				return &classify.Error{Class: classify.ClassEphemeral, Status: 503}
			}
			return nil
		})
		store := memstore.New(memstore.Config{})
		for i := range 20 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: delivery.Chain(partner, delivery.WithBreaker(br)), Gate: gate, Concurrency: 1,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(5 * time.Minute)
		synctest.Wait()
		partnerDown.Store(false) // back, but the breaker does not know yet
		time.Sleep(openTimeout - 5*time.Minute - time.Second)
		synctest.Wait()
		mu.Lock()
		failed := append([]string(nil), calls...)
		mu.Unlock()
		require.Len(t, failed, 3, "three failures open the breaker; nothing reaches the partner after that")
		assert.Equal(t, health.BreakerOpen, br.State())
		err = gate.Allow(context.Background())
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		hint, ok := classify.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, time.Second, hint, "the gate says when the breaker lets a probe through")
		st, _ := store.Stats(context.Background())
		assert.EqualValues(t, 20, st.Count(delivery.StatePending))
		attempted := map[string]bool{}
		for _, id := range failed {
			attempted[id] = true
		}
		for i := range 20 {
			id := fmt.Sprintf("r-%02d", i)
			want := 0
			if attempted[id] {
				want = 1
			}
			assert.Equal(t, want, get(t, store, id).Attempts, "%s: deferred records spend no attempt", id)
		}

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		st, _ = store.Stats(context.Background())
		assert.EqualValues(t, 20, st.Count(delivery.StateDelivered), "the half-open probe succeeded and the backlog drained")
		assert.Equal(t, health.BreakerClosed, br.State())
		mu.Lock()
		assert.Len(t, calls, 23, "3 failures, then one call per record")
		mu.Unlock()
		for i := range 20 {
			id := fmt.Sprintf("r-%02d", i)
			want := 1
			if attempted[id] {
				want = 2
			}
			assert.Equal(t, want, get(t, store, id).Attempts, id)
		}
		cancel()
		require.NoError(t, <-done)
	})
}
