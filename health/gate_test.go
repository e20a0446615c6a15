package health_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

func newGate(t *testing.T, m *health.Monitor, b health.Breaker) *health.Gate {
	t.Helper()
	g, err := health.NewGate(health.GateConfig{Monitor: m, Breaker: b})
	require.NoError(t, err)
	return g
}

func TestGateOpenWhenUpAndClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(true)
		g := newGate(t, newMonitor(t, checker, nil), newBreaker(t, health.BreakerConfig{}))
		for range 10 {
			assert.NoError(t, g.Allow(t.Context()))
		}
		assert.EqualValues(t, 1, checker.calls.Load(), "one probe on demand, then the cached result")
	})
}

func TestGateClosedWhileTheMonitorIsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(false)
		m := newMonitor(t, checker, nil)
		g := newGate(t, m, newBreaker(t, health.BreakerConfig{}))

		err := g.Allow(t.Context())
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.False(t, classify.Of(err).CountsAttempt(), "a closed gate costs no attempt")
		assert.ErrorIs(t, err, health.ErrDown)
		wait, ok := classify.RetryAfter(err)
		require.True(t, ok)
		assert.Equal(t, interval+timeout, wait)

		time.Sleep(4 * time.Second)
		wait, _ = classify.RetryAfter(g.Allow(t.Context()))
		assert.Equal(t, interval+timeout-4*time.Second, wait, "the hint counts down to the next look")

		// Following the hint: the partner is back, but it takes three
		// good probes in a row to trust it again.
		checker.healthy.Store(true)
		for range 2 {
			time.Sleep(wait)
			err = g.Allow(t.Context())
			assert.ErrorIs(t, err, health.ErrDown)
			wait, _ = classify.RetryAfter(err)
		}
		time.Sleep(wait)
		assert.NoError(t, g.Allow(t.Context()))
	})
}

func TestGateClosedWhileTheBreakerIsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 1})
		g := newGate(t, newMonitor(t, newFakeChecker(true), nil), b)
		require.NoError(t, g.Allow(t.Context()))
		require.NoError(t, call(t, b, http503))

		err := g.Allow(t.Context())
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.ErrorIs(t, err, health.ErrBreakerOpen)
		wait, _ := classify.RetryAfter(err)
		assert.Equal(t, openTimeout, wait)

		time.Sleep(pastOpenTimeout)
		assert.NoError(t, g.Allow(t.Context()), "half-open: the gate lets work reach the breaker's probe")
	})
}

func TestGateWithOnlyOneSide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		onlyMonitor := newGate(t, newMonitor(t, newFakeChecker(false), nil), nil)
		assert.ErrorIs(t, onlyMonitor.Allow(t.Context()), health.ErrDown)
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 1})
		onlyBreaker := newGate(t, nil, b)
		assert.NoError(t, onlyBreaker.Allow(t.Context()))
		require.NoError(t, call(t, b, http503))
		assert.ErrorIs(t, onlyBreaker.Allow(t.Context()), health.ErrBreakerOpen)
	})
	_, err := health.NewGate(health.GateConfig{})
	assert.ErrorContains(t, err, "health: GateConfig")
}

// gater is the shape a dispatcher's gate hook takes; a Monitor alone has it
// too.
type gater interface {
	Allow(ctx context.Context) error
}

var (
	_ gater          = (*health.Gate)(nil)
	_ gater          = (*health.Monitor)(nil)
	_ health.Checker = (*health.Monitor)(nil)
	_ health.Checker = (*health.HTTPChecker)(nil)
	_ health.Breaker = (*health.CircuitBreaker)(nil)
)
