package metrics_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// FuzzConfig: New returns an error naming a Config field, or a collector
// that observes an attempt and is gathered without panicking.
func FuzzConfig(f *testing.F) {
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2} {
		f.Add(int(v), v, v, v, 0.1, 1.0, 10.0, false)
		f.Add(0, int64(0), v, int64(0), math.NaN(), 1.0, math.Inf(1), true)
		f.Add(1, v, int64(0), v, 5.0, 1.0, 2.0, true)
	}
	f.Fuzz(func(t *testing.T, maxLabels int, exemplar, statsInterval, statsTimeout int64, b1, b2, b3 float64, withStore bool) {
		cfg := metrics.Config{MaxLabelValues: maxLabels, ExemplarInterval: time.Duration(exemplar),
			StatsInterval: time.Duration(statsInterval), StatsTimeout: time.Duration(statsTimeout), LatencyBuckets: []float64{b1, b2, b3}}
		if withStore {
			cfg.Store = memstore.New(memstore.Config{})
		}
		var m *metrics.Collector
		var err error
		require.NotPanics(t, func() { m, err = metrics.New(cfg) })
		if err != nil {
			assert.Contains(t, err.Error(), "metrics: Config.")
			return
		}
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(m))
		e := attempt("r", "ats", classify.ClassEphemeral, "timeout")
		e.Attempt.StartedAt = time.Now()
		m.ObserveAttempt(context.Background(), e)
		_, err = reg.Gather()
		assert.NoError(t, err)
	})
}
