package health_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

var extremes = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, int64(time.Minute)}

// FuzzMonitorConfig: NewMonitor returns an error naming a MonitorConfig
// field, or a monitor whose Check and Allow work.
func FuzzMonitorConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(v, v, v, int(v), int(v), false)
		f.Add(v, int64(time.Second), int64(0), 3, 2, true)
		f.Add(int64(0), v, v, 1, 1, false)
	}
	f.Fuzz(func(t *testing.T, interval, timeout, ttl int64, failAt, succeedAt int, failing bool) {
		synctest.Test(t, func(t *testing.T) {
			var probeErr error
			if failing {
				probeErr = classify.Ephemeral(errors.New("503"))
			}
			m, err := health.NewMonitor(health.MonitorConfig{
				Name: "p", Checker: health.CheckerFunc(func(context.Context) error { return probeErr }),
				Interval: time.Duration(interval), Timeout: time.Duration(timeout), TTL: time.Duration(ttl),
				FailureThreshold: failAt, SuccessThreshold: succeedAt,
			})
			if err != nil {
				assert.Contains(t, err.Error(), "health: monitor \"p\": MonitorConfig.")
				return
			}
			assert.Equal(t, probeErr == nil, m.Check(context.Background()) == nil)
			err = m.Allow(context.Background())
			if failing {
				assert.ErrorIs(t, err, health.ErrDown)
				hint, _ := classify.RetryAfter(err)
				assert.GreaterOrEqual(t, hint, time.Duration(0))
			} else {
				assert.NoError(t, err)
			}
		})
	})
}

// FuzzBreakerConfig: NewCircuitBreaker returns an error naming a
// BreakerConfig field, or a breaker that opens on failures and whose
// refusal hints are never negative.
func FuzzBreakerConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(int(v), 0.5, int(v), v, v, int(v))
		f.Add(1, -1.0, 0, int64(0), v, 1)
		f.Add(-1, 0.1, 1, v, int64(time.Second), 0)
	}
	f.Add(math.MaxInt, math.NaN(), math.MaxInt, int64(0), int64(0), math.MaxInt)
	f.Fuzz(func(t *testing.T, consecutive int, ratio float64, minRequests int, window, openTimeout int64, halfOpen int) {
		synctest.Test(t, func(t *testing.T) {
			b, err := health.NewCircuitBreaker(health.BreakerConfig{
				Name: "p", ConsecutiveFailures: consecutive, FailureRatio: ratio, MinRequests: minRequests,
				Window: time.Duration(window), OpenTimeout: time.Duration(openTimeout), HalfOpenRequests: halfOpen,
			})
			if err != nil {
				assert.Contains(t, err.Error(), "health: breaker \"p\": BreakerConfig.")
				return
			}
			for range 10 {
				done, err := b.Allow(context.Background())
				if err != nil {
					assert.ErrorIs(t, err, health.ErrBreakerOpen)
					hint, ok := classify.RetryAfter(err)
					if ok {
						assert.GreaterOrEqual(t, hint, time.Duration(0))
					}
					continue
				}
				done(classify.Ephemeral(errors.New("503")))
			}
		})
	})
}

// FuzzHTTPCheckerConfig: NewHTTPChecker returns an error naming a field,
// or a checker, for any size and timeout.
func FuzzHTTPCheckerConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(int(v), v, "GET")
	}
	f.Add(health.MaxCheckBody, int64(time.Second), "BAD METHOD")
	f.Fuzz(func(t *testing.T, maxBody int, timeout int64, method string) {
		c, err := health.NewHTTPChecker(health.HTTPCheckerConfig{URL: "https://partner.example/health", Method: method,
			MaxBody: maxBody, Timeout: time.Duration(timeout)})
		if err != nil {
			assert.Contains(t, err.Error(), "health: HTTPCheckerConfig.")
			return
		}
		require.NotNil(t, c)
	})
}
