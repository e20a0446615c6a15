package delivery_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/health"
)

// A nil pointer or func inside one of the config's interfaces used to pass
// NewDispatcher and panic in RunOnce, for the Observer in a worker
// goroutine no caller can recover.
func TestNewDispatcherRefusesTypedNils(t *testing.T) {
	store := memstore.New(memstore.Config{})
	for _, tc := range []struct {
		field string
		set   func(*delivery.DispatcherConfig)
	}{
		{"Gate", func(c *delivery.DispatcherConfig) { c.Gate = (*health.Monitor)(nil) }},
		{"Gate", func(c *delivery.DispatcherConfig) { c.Gate = (*health.Gate)(nil) }},
		{"Gate", func(c *delivery.DispatcherConfig) { c.Gate = delivery.GateFunc(nil) }},
		{"Store", func(c *delivery.DispatcherConfig) { c.Store = (*memstore.Store)(nil) }},
		{"Observer", func(c *delivery.DispatcherConfig) { c.Observer = (*logging.Observer)(nil) }},
		{"Observer", func(c *delivery.DispatcherConfig) { c.Observer = (*failures.Tracker)(nil) }},
		{"Deliverer", func(c *delivery.DispatcherConfig) { c.Deliverer = (*httpdelivery.Deliverer)(nil) }},
		{"Deliverer", func(c *delivery.DispatcherConfig) { c.Deliverer = delivery.DelivererFunc(nil) }},
	} {
		cfg := delivery.DispatcherConfig{Store: store, Deliverer: newScript()}
		tc.set(&cfg)
		t.Run(tc.field, func(t *testing.T) {
			var d *delivery.Dispatcher
			var err error
			require.NotPanics(t, func() { d, err = delivery.NewDispatcher(cfg) })
			require.Error(t, err)
			assert.Nil(t, d)
			assert.ErrorContains(t, err, "DispatcherConfig."+tc.field+" is a nil")
		})
	}
}

func TestObserversLeavesTypedNilsOut(t *testing.T) {
	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
	rec := &recordingObserver{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: newScript(),
		Observer: delivery.Observers((*logging.Observer)(nil), rec, (*failures.Tracker)(nil))})
	rep, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Delivered)
	assert.Len(t, rec.events(), 1)
}

// panickingObserver panics in every call, with a value holding a secret.
type panickingObserver struct{}

func (panickingObserver) ObserveAttempt(context.Context, delivery.AttemptEvent) {
	panic("observer bug; Authorization: Bearer sk_live_0123456789abcdefghij")
}

func (panickingObserver) ObserveRun(context.Context, delivery.Report) {
	panic("observer bug in ObserveRun")
}

// captureDefaultLog points slog.Default at a buffer for the test.
func captureDefaultLog(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}

func TestPanickingObserverDoesNotCrashTheProcess(t *testing.T) {
	t.Run("RunOnce", func(t *testing.T) {
		log := captureDefaultLog(t)
		store := memstore.New(memstore.Config{})
		enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")}, delivery.Message{ID: "b", Payload: pl("b")},
			delivery.Message{ID: "c", Payload: pl("c")})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: newScript(), Concurrency: 2,
			Observer: delivery.Observers(panickingObserver{})})
		var rep delivery.Report
		var err error
		require.NotPanics(t, func() { rep, err = d.RunOnce(context.Background()) })
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Delivered)
		assert.Equal(t, 3, rep.ObserverPanics)
		for _, id := range []string{"a", "b", "c"} {
			assert.Equal(t, delivery.StateDelivered, get(t, store, id).State, "the outcome is stored before the observer runs")
		}
		assert.Contains(t, log.String(), "observer panicked")
		assert.Contains(t, log.String(), "method=ObserveAttempt")
		assert.Contains(t, log.String(), "method=ObserveRun")
		assert.NotContains(t, log.String(), "sk_live_0123456789abcdefghij", "the panic value is redacted")
	})
	t.Run("Run", func(t *testing.T) {
		captureDefaultLog(t)
		synctest.Test(t, func(t *testing.T) {
			store := memstore.New(memstore.Config{})
			d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: newScript(), Observer: panickingObserver{}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- d.Run(ctx) }()
			enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
			time.Sleep(time.Minute)
			enqueue(t, store, delivery.Message{ID: "b", Payload: pl("b")})
			time.Sleep(time.Minute)
			cancel()
			require.NoError(t, <-done)
			assert.Equal(t, delivery.StateDelivered, get(t, store, "a").State)
			assert.Equal(t, delivery.StateDelivered, get(t, store, "b").State)
		})
	})
}

// 2*AttemptTimeout + StoreTimeout wrapped for an AttemptTimeout near the
// largest Duration: MaxInt64 bypassed the lease check (a two-minute lease
// for an unbounded attempt) and MaxInt64/2 released every record without
// an attempt, forever.
func TestHugeTimeoutsAreRefusedNotWrapped(t *testing.T) {
	store := memstore.New(memstore.Config{})
	for _, tc := range []struct {
		name  string
		cfg   delivery.DispatcherConfig
		field string
	}{
		{"AttemptTimeout MaxInt64", delivery.DispatcherConfig{AttemptTimeout: math.MaxInt64}, "AttemptTimeout"},
		{"AttemptTimeout MaxInt64/2", delivery.DispatcherConfig{AttemptTimeout: math.MaxInt64 / 2}, "AttemptTimeout"},
		{"AttemptTimeout MaxInt64/2 with a huge Lease", delivery.DispatcherConfig{AttemptTimeout: math.MaxInt64 / 2, Lease: math.MaxInt64}, "AttemptTimeout"},
		{"AttemptTimeout just over the bound", delivery.DispatcherConfig{AttemptTimeout: delivery.MaxAttemptTimeout + 1}, "AttemptTimeout"},
		{"StoreTimeout MaxInt64", delivery.DispatcherConfig{StoreTimeout: math.MaxInt64}, "StoreTimeout"},
		{"Concurrency MaxInt", delivery.DispatcherConfig{Concurrency: math.MaxInt}, "Concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Store, cfg.Deliverer = store, newScript()
			var err error
			require.NotPanics(t, func() { _, err = delivery.NewDispatcher(cfg) })
			assert.ErrorContains(t, err, "DispatcherConfig."+tc.field)
		})
	}
}

// At the bounds the lease still covers two attempts and a write, and
// records are attempted, not released.
func TestLargestTimeoutsStillLeaseEnough(t *testing.T) {
	for _, lease := range []time.Duration{0, math.MaxInt64} {
		synctest.Test(t, func(t *testing.T) {
			store := memstore.New(memstore.Config{})
			enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
			var leaseLeft time.Duration
			deliverer := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
				leaseLeft = time.Until(get(t, store, m.ID).LeaseExpiresAt)
				return nil
			})
			d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: deliverer,
				AttemptTimeout: delivery.MaxAttemptTimeout, StoreTimeout: delivery.MaxStoreTimeout, Lease: lease})
			rep, err := d.RunOnce(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Delivered)
			assert.Greater(t, leaseLeft, 2*delivery.MaxAttemptTimeout+delivery.MaxStoreTimeout)
		})
	}
}

// A nil *health.Monitor or GateFunc(nil) in WithGate, or a nil
// *health.CircuitBreaker in WithBreaker, panicked in every attempt, and
// the dispatcher dead-lettered every record as a panicking message.
func TestGuardMiddlewaresIgnoreTypedNils(t *testing.T) {
	for name, mw := range map[string]delivery.Middleware{
		"WithGate nil monitor":    delivery.WithGate((*health.Monitor)(nil)),
		"WithGate nil func":       delivery.WithGate(delivery.GateFunc(nil)),
		"WithBreaker nil breaker": delivery.WithBreaker((*health.CircuitBreaker)(nil)),
	} {
		t.Run(name, func(t *testing.T) {
			store := memstore.New(memstore.Config{})
			enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
			d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: delivery.Chain(newScript(), mw)})
			rep, err := d.RunOnce(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Delivered)
			assert.Equal(t, delivery.StateDelivered, get(t, store, "a").State)
		})
	}
}

// One panicking observer in Observers used to keep every event from the
// observers after it.
func TestPanickingObserverDoesNotSilenceTheOthers(t *testing.T) {
	captureDefaultLog(t)
	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")}, delivery.Message{ID: "b", Payload: pl("b")})
	rec := &recordingObserver{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: newScript(),
		Observer: delivery.Observers(panickingObserver{}, rec)})
	rep, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, rep.ObserverPanics)
	assert.Len(t, rec.events(), 2)
	assert.Len(t, rec.runs(), 1)
}
