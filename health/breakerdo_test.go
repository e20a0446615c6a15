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

// Do counts outcomes as Allow and done do: 503s open the breaker, after
// which Do refuses without running the call; a 400 is not counted.
func TestBreakerDoCountsAndRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 2})
		ran := 0
		do := func(outcome error) error {
			return b.Do(t.Context(), func(context.Context) error { ran++; return outcome })
		}
		assert.Equal(t, http400, do(http400))
		assert.Equal(t, http503, do(http503))
		assert.Equal(t, health.BreakerClosed, b.State(), "the 400 did not count, one 503 is not two")
		assert.Equal(t, http503, do(http503))
		assert.Equal(t, health.BreakerOpen, b.State())

		requireRefused(t, do(nil), openTimeout)
		assert.Equal(t, 3, ran, "an open breaker runs nothing")

		time.Sleep(pastOpenTimeout)
		require.NoError(t, do(nil))
		assert.Equal(t, health.BreakerClosed, b.State())
	})
}

// A call that panics frees its half-open slot (the breaker does not stay
// stuck half-open with the slot taken) and the panic reaches the caller.
func TestBreakerDoPanicFreesTheSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 1})
		require.NoError(t, call(t, b, http503))
		time.Sleep(pastOpenTimeout)
		require.Equal(t, health.BreakerHalfOpen, b.State())

		assert.PanicsWithValue(t, "boom", func() {
			_ = b.Do(t.Context(), func(context.Context) error { panic("boom") })
		})
		assert.Equal(t, health.BreakerHalfOpen, b.State())
		require.NoError(t, b.Do(t.Context(), func(context.Context) error { return nil }), "the probe slot is free again")
		assert.Equal(t, health.BreakerClosed, b.State())
	})
}

// With the caller's context ended, Do refuses at once with an Unavailable
// error and runs nothing.
func TestBreakerDoEndedContext(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := b.Do(ctx, func(context.Context) error { t.Fatal("ran"); return nil })
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	assert.ErrorIs(t, err, context.Canceled)
}

// On a closed breaker, a successful Do allocates only what gobreaker's own
// two-step Allow does (its done func); Allow and done cost two more.
func TestBreakerDoAllocations(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{})
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	do := testing.AllocsPerRun(200, func() { _ = b.Do(ctx, ok) })
	allow := testing.AllocsPerRun(200, func() {
		done, _ := b.Allow(ctx)
		done(nil)
	})
	assert.LessOrEqual(t, do, 1.0)
	assert.Less(t, do, allow)
}

// A call that panics is not counted as a failure by a closed breaker,
// however often it panics, and Do and Allow share one breaker: failures
// reported through either open it.
func TestBreakerDoPanicIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 2})
		for range 3 {
			assert.PanicsWithValue(t, "boom", func() {
				_ = b.Do(t.Context(), func(context.Context) error { panic("boom") })
			})
		}
		assert.Equal(t, health.BreakerClosed, b.State())

		require.NoError(t, call(t, b, http503)) // through Allow and done
		assert.Equal(t, http503, b.Do(t.Context(), func(context.Context) error { return http503 }))
		assert.Equal(t, health.BreakerOpen, b.State())
		requireRefused(t, b.Do(t.Context(), func(context.Context) error { return nil }), openTimeout)
	})
}
