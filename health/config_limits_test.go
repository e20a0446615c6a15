package health_test

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

// A nil pointer or func inside an interface field passed the nil checks
// and panicked on first use.
func TestConstructorsRefuseTypedNils(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() error
		want  string
	}{
		{"Monitor Checker nil pointer", func() error {
			_, err := health.NewMonitor(health.MonitorConfig{Name: "p", Checker: (*health.HTTPChecker)(nil)})
			return err
		}, "MonitorConfig.Checker is a nil"},
		{"Monitor Checker nil func", func() error {
			_, err := health.NewMonitor(health.MonitorConfig{Name: "p", Checker: health.CheckerFunc(nil)})
			return err
		}, "MonitorConfig.Checker is a nil"},
		{"Gate Breaker nil pointer", func() error {
			_, err := health.NewGate(health.GateConfig{Breaker: (*health.CircuitBreaker)(nil)})
			return err
		}, "GateConfig.Breaker is a nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tc.build() })
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestBreakersRefuseATypedNilFromNew(t *testing.T) {
	set, err := health.NewBreakers(health.BreakersConfig{New: func(string) (health.Breaker, error) {
		return (*health.CircuitBreaker)(nil), nil
	}})
	require.NoError(t, err)
	require.NotPanics(t, func() {
		_, err = set.For("crm").Allow(context.Background())
	})
	assert.ErrorIs(t, err, health.ErrBreakerOpen)
	assert.ErrorContains(t, err, "BreakersConfig.New returned nil")
}

// Interval + Timeout wrapped negative for an Interval near the largest
// Duration, so no result was ever fresh and every Allow probed.
func TestMonitorHugeIntervalKeepsResultsFresh(t *testing.T) {
	var probes atomic.Int32
	m, err := health.NewMonitor(health.MonitorConfig{Name: "p", Interval: math.MaxInt64, Timeout: time.Second,
		Checker: health.CheckerFunc(func(context.Context) error { probes.Add(1); return nil })})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, m.Allow(context.Background()))
	}
	assert.EqualValues(t, 1, probes.Load(), "the first result stays fresh")
}

// The end of an open period near the largest Duration is saturated, not
// wrapped: the breaker stays open and its hint points far ahead.
func TestBreakerHugeOpenTimeoutHintsFarAhead(t *testing.T) {
	b, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "p", ConsecutiveFailures: 1, OpenTimeout: math.MaxInt64})
	require.NoError(t, err)
	done, err := b.Allow(context.Background())
	require.NoError(t, err)
	done(classify.Ephemeral(errors.New("503")))
	err = b.Peek()
	require.ErrorIs(t, err, health.ErrBreakerOpen)
	hint, ok := classify.RetryAfter(err)
	require.True(t, ok)
	assert.Greater(t, hint, 100*365*24*time.Hour)
}

// MaxBody near the largest int wrapped the read limit negative, so
// Validate saw an empty body.
func TestHTTPCheckerBoundsMaxBody(t *testing.T) {
	for _, n := range []int{math.MaxInt, health.MaxCheckBody + 1} {
		_, err := health.NewHTTPChecker(health.HTTPCheckerConfig{URL: "https://partner.example/health", MaxBody: n})
		assert.ErrorContains(t, err, "HTTPCheckerConfig.MaxBody")
	}
	_, err := health.NewHTTPChecker(health.HTTPCheckerConfig{URL: "https://partner.example/health", MaxBody: health.MaxCheckBody})
	assert.NoError(t, err)
}

// A Window near the largest Duration overflowed the rolling counter's
// bucket arithmetic and the breaker panicked on its first call (found by
// FuzzBreakerConfig).
func TestBreakerWindowIsBounded(t *testing.T) {
	for _, w := range []time.Duration{math.MaxInt64, math.MaxInt64 - 5, health.MaxBreakerWindow + 1} {
		var err error
		require.NotPanics(t, func() { _, err = health.NewCircuitBreaker(health.BreakerConfig{Name: "p", Window: w}) })
		assert.ErrorContains(t, err, "BreakerConfig.Window")
	}
	b, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "p", Window: health.MaxBreakerWindow})
	require.NoError(t, err)
	done, err := b.Allow(context.Background())
	require.NoError(t, err)
	done(nil)
}
