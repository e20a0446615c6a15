package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// countingStore counts Stats queries, can fail them, and can make them
// slow.
type countingStore struct {
	delivery.Store
	queries atomic.Int32
	fail    atomic.Bool
	delay   time.Duration
}

func (s *countingStore) Stats(ctx context.Context) (delivery.Stats, error) {
	s.queries.Add(1)
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return delivery.Stats{}, ctx.Err()
		}
	}
	if s.fail.Load() {
		return delivery.Stats{}, errors.New("database is down")
	}
	return s.Store.Stats(ctx)
}

func pendingGauge(t *testing.T, reg prometheus.Gatherer) float64 {
	t.Helper()
	for _, m := range gather(t, reg)["outbound_queue_records"].GetMetric() {
		if m.GetLabel()[0].GetValue() == "pending" {
			return m.GetGauge().GetValue()
		}
	}
	t.Fatal("no pending gauge")
	return 0
}

func TestQueueGaugesQueryTheStoreAtMostOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &countingStore{Store: memstore.New(memstore.Config{}), delay: time.Second}
		m, err := metrics.New(metrics.Config{Store: store, StatsInterval: 10 * time.Second})
		require.NoError(t, err)
		reg := prometheus.NewRegistry()
		reg.MustRegister(m)
		_, err = store.Enqueue(context.Background(), delivery.Message{ID: "a", Payload: pl("a")})
		require.NoError(t, err)

		// Twenty scrapers at once: one query, and all of them see its answer.
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { assert.Equal(t, float64(1), pendingGauge(t, reg)) })
		}
		wg.Wait()
		assert.Equal(t, int32(1), store.queries.Load())

		// Within the interval, scrapes reuse the answer, even when the
		// store changed.
		_, err = store.Enqueue(context.Background(), delivery.Message{ID: "b", Payload: pl("b")})
		require.NoError(t, err)
		for range 8 {
			time.Sleep(time.Second)
			assert.Equal(t, float64(1), pendingGauge(t, reg))
		}
		assert.Equal(t, int32(1), store.queries.Load())

		// Once the interval has passed since the last query began, the
		// next scrape queries again.
		time.Sleep(time.Second)
		assert.Equal(t, float64(2), pendingGauge(t, reg))
		assert.Equal(t, int32(2), store.queries.Load())
		assert.Equal(t, float64(0), testutil.ToFloat64(counterIn(t, reg, "outbound_queue_stats_age_seconds")))
	})
}

// counterIn returns a collector reporting the single-series metric name
// from g, for testutil.ToFloat64.
func counterIn(t *testing.T, g prometheus.Gatherer, name string) prometheus.Collector {
	t.Helper()
	mf := gather(t, g)[name]
	require.NotNil(t, mf, name)
	require.Len(t, mf.GetMetric(), 1)
	v := mf.GetMetric()[0].GetGauge().GetValue()
	if c := mf.GetMetric()[0].GetCounter(); c != nil {
		v = c.GetValue()
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, func() float64 { return v })
}

func TestQueueGaugesKeepTheLastAnswerWhenTheStoreFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &countingStore{Store: memstore.New(memstore.Config{})}
		m, err := metrics.New(metrics.Config{Store: store, StatsInterval: 10 * time.Second})
		require.NoError(t, err)
		reg := prometheus.NewRegistry()
		reg.MustRegister(m)

		// Before any answer: no gauges, and the error is counted.
		store.fail.Store(true)
		assert.Nil(t, gather(t, reg)["outbound_queue_records"])
		assert.Equal(t, float64(1), testutil.ToFloat64(counterIn(t, reg, "outbound_queue_stats_errors_total")))
		assert.Equal(t, int32(1), store.queries.Load(), "a failing store is not queried on every scrape either")

		time.Sleep(10 * time.Second)
		store.fail.Store(false)
		_, err = store.Enqueue(context.Background(), delivery.Message{ID: "a", Payload: pl("a")})
		require.NoError(t, err)
		assert.Equal(t, float64(1), pendingGauge(t, reg))

		time.Sleep(15 * time.Second)
		store.fail.Store(true)
		assert.Equal(t, float64(1), pendingGauge(t, reg), "the last good figures stay")
		assert.Equal(t, float64(15), testutil.ToFloat64(counterIn(t, reg, "outbound_queue_stats_age_seconds")), "and say how old they are")
		assert.Equal(t, float64(2), testutil.ToFloat64(counterIn(t, reg, "outbound_queue_stats_errors_total")))
		assert.Equal(t, int32(3), store.queries.Load())
	})
}

func TestQueueStatsTimeoutBoundsAScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &countingStore{Store: memstore.New(memstore.Config{}), delay: time.Hour}
		m, err := metrics.New(metrics.Config{Store: store, StatsTimeout: 2 * time.Second})
		require.NoError(t, err)
		reg := prometheus.NewRegistry()
		reg.MustRegister(m)
		start := time.Now()
		assert.Nil(t, gather(t, reg)["outbound_queue_records"])
		assert.Equal(t, 2*time.Second, time.Since(start), "the scrape waited StatsTimeout, not the slow store")
	})
}

func TestNoQueueGaugesWithoutAStore(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	for name := range gather(t, reg) {
		assert.False(t, strings.HasPrefix(name, "outbound_queue_"), name)
	}
}
