package health_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

const openTimeout = 30 * time.Second

// pastOpenTimeout is the first moment at which a breaker opened at time 0
// (of a synctest bubble) is half-open: gobreaker turns half-open once the
// open period has strictly passed.
const pastOpenTimeout = openTimeout + time.Millisecond

var (
	http400 = &classify.Error{Class: classify.ClassPermanent, Status: http.StatusBadRequest}
	http503 = &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusServiceUnavailable}
)

func newBreaker(t *testing.T, cfg health.BreakerConfig) *health.CircuitBreaker {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "partner"
	}
	if cfg.OpenTimeout == 0 {
		cfg.OpenTimeout = openTimeout
	}
	b, err := health.NewCircuitBreaker(cfg)
	require.NoError(t, err)
	return b
}

// call makes one call through b that ends with outcome, and returns
// Allow's error.
func call(t *testing.T, b health.Breaker, outcome error) error {
	t.Helper()
	done, err := b.Allow(t.Context())
	if err != nil {
		return err
	}
	done(outcome)
	return nil
}

// requireRefused checks that err is a breaker refusal with the given hint.
func requireRefused(t *testing.T, err error, hint time.Duration) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	assert.ErrorIs(t, err, health.ErrBreakerOpen)
	wait, ok := classify.RetryAfter(err)
	assert.True(t, ok)
	assert.Equal(t, hint, wait)
}

func TestBreakerA400StormNeverOpens(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 10})
	for i := range 1000 {
		require.NoError(t, call(t, b, http400), "call %d", i)
	}
	for _, outcome := range []error{
		classify.Discard(errors.New("record is invalid")),
		classify.Unavailable(errors.New("gate closed further down")),
		context.Canceled,
	} {
		for range 100 {
			require.NoError(t, call(t, b, outcome))
		}
	}
	assert.Equal(t, health.BreakerClosed, b.State())
	assert.NoError(t, b.Peek())
}

func TestBreakerA503StormOpensAfterConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 5})
		for i := 1; i <= 4; i++ {
			require.NoError(t, call(t, b, http503))
			require.Equal(t, health.BreakerClosed, b.State(), "after %d failures", i)
		}
		require.NoError(t, call(t, b, http400), "a 400 between 503s ...")
		require.NoError(t, call(t, b, http503), "... neither counts nor resets the run")
		assert.Equal(t, health.BreakerOpen, b.State())

		_, err := b.Allow(t.Context())
		requireRefused(t, err, openTimeout)
		requireRefused(t, b.Peek(), openTimeout)
		time.Sleep(10 * time.Second)
		_, err = b.Allow(t.Context())
		requireRefused(t, err, openTimeout-10*time.Second)
	})
}

func TestBreakerSuccessResetsTheRun(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 3, FailureRatio: -1})
	for range 100 {
		require.NoError(t, call(t, b, http503))
		require.NoError(t, call(t, b, http503))
		require.NoError(t, call(t, b, classify.Duplicate(errors.New("already have it"))))
	}
	assert.Equal(t, health.BreakerClosed, b.State())
}

func TestBreakerHalfOpenLetsTheConfiguredProbesThroughAndRecoveryCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 1, HalfOpenRequests: 3})
		require.NoError(t, call(t, b, http503))
		require.Equal(t, health.BreakerOpen, b.State())

		time.Sleep(pastOpenTimeout)
		assert.Equal(t, health.BreakerHalfOpen, b.State())
		assert.NoError(t, b.Peek())
		var dones []func(error)
		for range 3 {
			done, err := b.Allow(t.Context())
			require.NoError(t, err)
			dones = append(dones, done)
		}
		_, err := b.Allow(t.Context())
		requireRefused(t, err, time.Second)
		requireRefused(t, b.Peek(), time.Second)

		dones[0](nil)
		dones[1](nil)
		assert.Equal(t, health.BreakerHalfOpen, b.State())
		dones[2](nil)
		assert.Equal(t, health.BreakerClosed, b.State(), "3 successes close it")
		assert.NoError(t, b.Peek())
	})
}

func TestBreakerHalfOpenFailureOpensAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 1, HalfOpenRequests: 2})
		require.NoError(t, call(t, b, http503))
		time.Sleep(pastOpenTimeout)
		require.NoError(t, call(t, b, nil))
		require.NoError(t, call(t, b, http503))
		assert.Equal(t, health.BreakerOpen, b.State())
		requireRefused(t, b.Peek(), openTimeout)
	})
}

func TestBreakerHalfOpenExcludedOutcomeFreesItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 1})
		require.NoError(t, call(t, b, http503))
		time.Sleep(pastOpenTimeout)
		require.NoError(t, call(t, b, http400), "a 400 says nothing either way ...")
		assert.Equal(t, health.BreakerHalfOpen, b.State())
		require.NoError(t, call(t, b, nil), "... so another probe may go")
		assert.Equal(t, health.BreakerClosed, b.State())
	})
}

func TestBreakerTripsOnFailureRatio(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: -1, FailureRatio: 0.5, MinRequests: 10})
	for i := 1; i <= 9; i++ {
		outcome := error(nil)
		if i%2 == 0 {
			outcome = http503
		}
		require.NoError(t, call(t, b, outcome))
		require.Equal(t, health.BreakerClosed, b.State(), "after %d calls", i)
	}
	require.NoError(t, call(t, b, http503))
	assert.Equal(t, health.BreakerOpen, b.State(), "5 failures in 10 calls")
}

func TestBreakerRatioWindowForgetsOldFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: -1, FailureRatio: 0.5, MinRequests: 10, Window: time.Minute})
		for range 9 {
			require.NoError(t, call(t, b, http503))
		}
		time.Sleep(2 * time.Minute)
		for range 9 {
			require.NoError(t, call(t, b, nil))
		}
		require.NoError(t, call(t, b, http503))
		assert.Equal(t, health.BreakerClosed, b.State(), "1 failure in the last 10 calls")
	})
}

func TestBreakerIgnoresFailuresAfterTheCallerGaveUp(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 2})
	for range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		done, err := b.Allow(ctx)
		require.NoError(t, err)
		cancel()
		done(classify.Ephemeral(context.DeadlineExceeded))
	}
	assert.Equal(t, health.BreakerClosed, b.State())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.Allow(ctx)
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, health.ErrBreakerOpen)
}

func TestBreakerDoneCountsOnce(t *testing.T) {
	b := newBreaker(t, health.BreakerConfig{ConsecutiveFailures: 2})
	done, err := b.Allow(t.Context())
	require.NoError(t, err)
	done(http503)
	done(http503)
	assert.Equal(t, health.BreakerClosed, b.State())
}

func TestBreakerOnStateChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu     sync.Mutex
			events []string
			b      *health.CircuitBreaker
		)
		b = newBreaker(t, health.BreakerConfig{
			ConsecutiveFailures: 1,
			OnStateChange: func(name string, from, to health.BreakerState) {
				// The hook may use the breaker: it runs outside its lock.
				assert.Equal(t, to, b.State())
				_ = b.Peek()
				mu.Lock()
				events = append(events, name+": "+from.String()+"->"+to.String())
				mu.Unlock()
			},
		})
		require.NoError(t, call(t, b, http503))
		time.Sleep(pastOpenTimeout)
		require.NoError(t, b.Peek())
		require.NoError(t, call(t, b, nil))
		assert.Equal(t, []string{
			"partner: closed->open",
			"partner: open->half-open",
			"partner: half-open->closed",
		}, events)
	})
}

func TestBreakerConcurrentUse(t *testing.T) {
	var changes sync.Map
	b := newBreaker(t, health.BreakerConfig{
		ConsecutiveFailures: 3,
		OnStateChange: func(_ string, from, to health.BreakerState) {
			changes.Store(from.String()+"->"+to.String(), true)
		},
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				outcome := error(nil)
				if (g+i)%3 == 0 {
					outcome = http503
				}
				_ = call(t, b, outcome)
				_ = b.Peek()
				_ = b.State()
			}
		})
	}
	wg.Wait()
	for b.State() == health.BreakerClosed {
		require.NoError(t, call(t, b, http503))
	}
	assert.Equal(t, health.BreakerOpen, b.State())
	_, ok := changes.Load("closed->open")
	assert.True(t, ok, "the hook saw the breaker open")
}

func TestNewCircuitBreakerValidates(t *testing.T) {
	tests := []struct {
		cfg  health.BreakerConfig
		want string
	}{
		{health.BreakerConfig{FailureRatio: 1.5}, "BreakerConfig.FailureRatio"},
		{health.BreakerConfig{ConsecutiveFailures: -1, FailureRatio: -1}, "cannot both be disabled"},
		{health.BreakerConfig{MinRequests: -1}, "BreakerConfig.MinRequests"},
		{health.BreakerConfig{Window: -1}, "BreakerConfig.Window"},
		{health.BreakerConfig{OpenTimeout: -1}, "BreakerConfig.OpenTimeout"},
		{health.BreakerConfig{HalfOpenRequests: -1}, "BreakerConfig.HalfOpenRequests"},
		{health.BreakerConfig{ConsecutiveFailures: 1 << 40}, "BreakerConfig.ConsecutiveFailures"},
	}
	for _, tt := range tests {
		_, err := health.NewCircuitBreaker(tt.cfg)
		assert.ErrorContains(t, err, tt.want)
		assert.ErrorContains(t, err, "health: ")
	}
}

func TestBreakerDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "p"})
		require.NoError(t, err)
		for range health.DefaultConsecutiveFailures - 1 {
			require.NoError(t, call(t, b, http503))
		}
		assert.Equal(t, health.BreakerClosed, b.State())
		require.NoError(t, call(t, b, http503))
		assert.Equal(t, health.BreakerOpen, b.State())
		requireRefused(t, b.Peek(), health.DefaultOpenTimeout)
	})
}

func TestBreakerStateText(t *testing.T) {
	for s, want := range map[health.BreakerState]string{
		health.BreakerClosed: "closed", health.BreakerHalfOpen: "half-open", health.BreakerOpen: "open", 9: "breaker-state(9)",
	} {
		assert.Equal(t, want, s.String())
	}
	text, err := health.BreakerHalfOpen.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "half-open", string(text))
	_, err = health.BreakerState(9).MarshalText()
	assert.Error(t, err)
}
