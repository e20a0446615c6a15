package metrics_test

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
)

func TestNewRefusesTypedNilStoreAndNaNBuckets(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  metrics.Config
		want string
	}{
		{"nil *memstore.Store", metrics.Config{Store: (*memstore.Store)(nil)}, "Config.Store is a nil"},
		{"NaN bucket", metrics.Config{LatencyBuckets: []float64{0.1, math.NaN(), 1}}, "Config.LatencyBuckets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = metrics.New(tc.cfg) })
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// An ExemplarInterval near the largest Duration wrapped the next exemplar's
// time negative, so every attempt replaced the exemplar.
func TestHugeExemplarIntervalKeepsTheFirstExemplar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, reg := newMetrics(t, metrics.Config{ExemplarInterval: math.MaxInt64})
		for _, id := range []string{"a", "b"} {
			e := attempt(id, "ats", classify.ClassEphemeral, "timeout")
			e.Attempt.StartedAt = time.Now()
			m.ObserveAttempt(context.Background(), e)
			time.Sleep(time.Hour)
		}
		assert.Equal(t, "a", exemplarOf(t, gather(t, reg)["outbound_attempts_total"]))
	})
}
