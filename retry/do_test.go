package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/retry"
)

// recorder is an attempt function that fails with the scripted errors in
// turn (nil ends the script with a success) and records when each call
// started, relative to its creation, under synctest's fake clock.
type recorder struct {
	start  time.Time
	script []error
	calls  []time.Duration
	hooks  []hook
}

type hook struct {
	attempt int
	delay   time.Duration
	err     error
}

func newRecorder(script ...error) *recorder {
	return &recorder{start: time.Now(), script: script}
}

func (r *recorder) fn(ctx context.Context) error {
	r.calls = append(r.calls, time.Since(r.start))
	i := len(r.calls) - 1
	if i >= 1000 {
		return nil // a runaway loop: end it so the test fails on its assertions
	}
	if i < len(r.script) {
		return r.script[i]
	}
	return r.script[len(r.script)-1]
}

func (r *recorder) onRetry(attempt int, delay time.Duration, err error) {
	r.hooks = append(r.hooks, hook{attempt, delay, err})
}

func requireAttemptsError(t *testing.T, err error, attempts int, reason error) *retry.AttemptsError {
	t.Helper()
	var ae *retry.AttemptsError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, attempts, ae.Attempts, "attempts")
	assert.Equal(t, reason, ae.Reason, "reason")
	if reason != nil {
		assert.ErrorIs(t, err, reason)
	}
	return ae
}

func TestDoDefaultScheduleIsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(ephemeral())
		p := retry.DefaultPolicy()
		p.OnRetry = rec.onRetry
		err := retry.Do(t.Context(), p, rec.fn)

		// Waits 1m, 3m, 9m, 27m, 1h21m, 4h3m, then capped at 6h.
		assert.Equal(t, []time.Duration{
			0,
			1 * time.Minute,
			4 * time.Minute,
			13 * time.Minute,
			40 * time.Minute,
			2*time.Hour + 1*time.Minute,
			6*time.Hour + 4*time.Minute,
			12*time.Hour + 4*time.Minute,
			18*time.Hour + 4*time.Minute,
			24*time.Hour + 4*time.Minute,
		}, rec.calls)
		var delays []time.Duration
		for i, h := range rec.hooks {
			assert.Equal(t, i+1, h.attempt)
			assert.Equal(t, ephemeral().Error(), h.err.Error())
			delays = append(delays, h.delay)
		}
		assert.Equal(t, []time.Duration{
			time.Minute, 3 * time.Minute, 9 * time.Minute, 27 * time.Minute,
			81 * time.Minute, 243 * time.Minute, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour,
		}, delays)

		ae := requireAttemptsError(t, err, 10, retry.ErrMaxAttempts)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err), "the last error's class survives")
		assert.ErrorIs(t, ae, errBoom)
		assert.Equal(t, 24*time.Hour+4*time.Minute, time.Since(rec.start), "gave up right after the last attempt")
	})
}

func TestDoSucceedsAfterRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(ephemeral(), unavailable(), nil)
		p := retry.DefaultPolicy()
		p.OnRetry = rec.onRetry
		require.NoError(t, retry.Do(t.Context(), p, rec.fn))
		assert.Equal(t, []time.Duration{0, time.Minute, 4 * time.Minute}, rec.calls)
		assert.Len(t, rec.hooks, 2)
	})
}

func TestDoFirstTrySuccess(t *testing.T) {
	rec := newRecorder(nil)
	p := retry.Policy{OnRetry: rec.onRetry}
	require.NoError(t, retry.Do(context.Background(), p, rec.fn))
	assert.Len(t, rec.calls, 1)
	assert.Empty(t, rec.hooks)
}

func TestDoStopsAtOnceOnFinalClasses(t *testing.T) {
	for _, err := range []error{
		classify.Permanent(errBoom),
		classify.Discard(errBoom),
		classify.Duplicate(errBoom),
		classify.New(classify.ClassOK, nil),
	} {
		t.Run(classify.Of(err).String(), func(t *testing.T) {
			rec := newRecorder(err, nil)
			p := retry.Policy{Backoff: retry.Constant(0), OnRetry: rec.onRetry}
			got := retry.Do(context.Background(), p, rec.fn)
			assert.Len(t, rec.calls, 1, "never retried")
			assert.Empty(t, rec.hooks)
			requireAttemptsError(t, got, 1, nil)
			assert.Equal(t, classify.Of(err), classify.Of(got), "class kept")
			assert.NotErrorIs(t, got, retry.ErrMaxAttempts)
		})
	}
}

func TestDoRetriesUnavailableButStillTerminates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(unavailable())
		p := retry.Policy{MaxAttempts: 4, OnRetry: rec.onRetry}
		err := retry.Do(t.Context(), p, rec.fn)
		// Unlike Next, Do counts Unavailable outcomes, so it ends by itself.
		assert.Equal(t, []time.Duration{0, time.Minute, 4 * time.Minute, 13 * time.Minute}, rec.calls)
		requireAttemptsError(t, err, 4, retry.ErrMaxAttempts)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	})
}

func TestDoUnavailableBoundedByMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(unavailable())
		p := retry.Policy{MaxAttempts: 1000, MaxElapsed: 10 * time.Minute}
		err := retry.Do(t.Context(), p, rec.fn)
		assert.Equal(t, []time.Duration{0, time.Minute, 4 * time.Minute}, rec.calls)
		requireAttemptsError(t, err, 3, retry.ErrMaxElapsed)
	})
}

func TestDoMaxElapsedStopsRetrying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(ephemeral())
		p := retry.Policy{MaxElapsed: 30 * time.Minute, OnRetry: rec.onRetry}
		err := retry.Do(t.Context(), p, rec.fn)
		// 0, 1m, 4m, 13m; a fifth attempt would start at 40m.
		assert.Equal(t, []time.Duration{0, time.Minute, 4 * time.Minute, 13 * time.Minute}, rec.calls)
		assert.Len(t, rec.hooks, 3, "no hook for a retry that will not happen")
		requireAttemptsError(t, err, 4, retry.ErrMaxElapsed)
		assert.Equal(t, 13*time.Minute, time.Since(rec.start), "gave up without waiting")
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	})
}

func TestDoMaxElapsedCountsTimeSpentInAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		p := retry.Policy{Backoff: retry.Constant(time.Minute), MaxElapsed: 10 * time.Minute, MaxAttempts: 100}
		err := retry.Do(t.Context(), p, func(ctx context.Context) error {
			calls++
			time.Sleep(2 * time.Minute) // a slow partner, on the fake clock
			return ephemeral()
		})
		// Each attempt takes 2m and the wait is 1m: attempts start at 0, 3m,
		// 6m and 9m; a fifth would start at 12m, past MaxElapsed.
		assert.Equal(t, 4, calls)
		requireAttemptsError(t, err, 4, retry.ErrMaxElapsed)
	})
}

func TestDoRetryAfterFloorsTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(
			withRetryAfter(classify.ClassEphemeral, 20*time.Minute), // floor above 1m
			withRetryAfter(classify.ClassEphemeral, time.Second),    // below 3m: backoff wins
			withRetryAfter(classify.ClassEphemeral, 48*time.Hour),   // hostile: capped
			nil,
		)
		p := retry.Policy{MaxRetryAfter: time.Hour, OnRetry: rec.onRetry}
		require.NoError(t, retry.Do(t.Context(), p, rec.fn))
		assert.Equal(t, []time.Duration{
			0,
			20 * time.Minute,
			23 * time.Minute,
			23*time.Minute + time.Hour,
		}, rec.calls)
	})
}

func TestDoRetryAfterWithJitterNeverEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(withRetryAfter(classify.ClassEphemeral, 30*time.Second))
		p := retry.Policy{
			Backoff:     retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: retry.FullJitter},
			MaxAttempts: 50,
		}
		_ = retry.Do(t.Context(), p, rec.fn)
		require.Len(t, rec.calls, 50)
		for i := 1; i < len(rec.calls); i++ {
			gap := rec.calls[i] - rec.calls[i-1]
			require.GreaterOrEqual(t, gap, 30*time.Second)
			require.LessOrEqual(t, gap, time.Minute)
		}
	})
}

func TestDoCancelDuringNineMinuteWaitReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		rec := newRecorder(ephemeral())
		done := make(chan error, 1)
		go func() { done <- retry.Do(ctx, retry.DefaultPolicy(), rec.fn) }()

		// Attempts at 0, 1m and 4m; then Do waits 9 minutes for the fourth.
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		require.Len(t, rec.calls, 3)
		select {
		case err := <-done:
			t.Fatalf("Do returned before cancellation: %v", err)
		default:
		}

		cancel()
		synctest.Wait() // every goroutine in the bubble is now blocked or done
		var err error
		select {
		case err = <-done:
		default:
			t.Fatal("Do still waiting after its context was canceled")
		}
		assert.Equal(t, 6*time.Minute, time.Since(rec.start), "no fake time passed after cancel")
		assert.Len(t, rec.calls, 3)
		requireAttemptsError(t, err, 3, retry.ErrContextDone)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err), "the last attempt's class, not the context's")
		assert.NotErrorIs(t, err, context.Canceled)
	})
}

func TestDoContextEndedBeforeFirstAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := retry.Do(ctx, retry.Policy{}, func(context.Context) error { called = true; return nil })
	assert.False(t, called)
	ae := requireAttemptsError(t, err, 0, retry.ErrContextDone)
	assert.ErrorIs(t, ae.Err, context.Canceled)
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "nothing was tried")
	assert.EqualError(t, err, "retry: no attempt made (context done): context canceled")
}

func TestDoContextCanceledDuringAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := retry.Do(ctx, retry.Policy{Backoff: retry.Constant(0)}, func(context.Context) error {
		calls++
		cancel()
		return ephemeral()
	})
	assert.Equal(t, 1, calls)
	requireAttemptsError(t, err, 1, retry.ErrContextDone)
}

func TestDoDoesNotWaitPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		rec := newRecorder(ephemeral())
		err := retry.Do(ctx, retry.DefaultPolicy(), rec.fn)
		// The 1m wait fits; the 3m wait after the second attempt would end
		// after the deadline, so Do returns at 1m instead of idling to 2m.
		assert.Equal(t, []time.Duration{0, time.Minute}, rec.calls)
		assert.Equal(t, time.Minute, time.Since(rec.start))
		requireAttemptsError(t, err, 2, retry.ErrContextDone)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	})
}

func TestDoZeroDelayRetriesImmediately(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder(ephemeral())
		err := retry.Do(t.Context(), retry.Policy{Backoff: retry.Constant(0), MaxAttempts: 5}, rec.fn)
		assert.Equal(t, []time.Duration{0, 0, 0, 0, 0}, rec.calls)
		requireAttemptsError(t, err, 5, retry.ErrMaxAttempts)
	})
}

func TestDoRejectsInvalidPolicyWithoutCalling(t *testing.T) {
	called := false
	fn := func(context.Context) error { called = true; return nil }
	err := retry.Do(context.Background(), retry.Policy{MaxAttempts: -1}, fn)
	assert.ErrorIs(t, err, retry.ErrInvalidSettings)
	assert.ErrorContains(t, err, "Policy.MaxAttempts")
	_, err = retry.DoValue(context.Background(), retry.Policy{Backoff: retry.Exponential{}},
		func(context.Context) (int, error) { called = true; return 1, nil })
	assert.ErrorIs(t, err, retry.ErrInvalidSettings)
	assert.False(t, called)
}

func TestDoNilFunction(t *testing.T) {
	err := retry.Do(context.Background(), retry.Policy{}, nil)
	assert.EqualError(t, err, "retry: Do called with a nil function")
	v, err := retry.DoValue[string](context.Background(), retry.Policy{}, nil)
	assert.Error(t, err)
	assert.Empty(t, v)
}

func TestDoValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		v, err := retry.DoValue(t.Context(), retry.Policy{}, func(context.Context) (string, error) {
			calls++
			if calls < 3 {
				return "", ephemeral()
			}
			return "receipt-3", nil
		})
		require.NoError(t, err)
		assert.Equal(t, "receipt-3", v)
		assert.Equal(t, 3, calls)

		// On giving up, the last attempt's value comes back with the error.
		v, err = retry.DoValue(t.Context(), retry.Policy{MaxAttempts: 2}, func(context.Context) (string, error) {
			return "partial", classify.Permanent(errBoom)
		})
		requireAttemptsError(t, err, 1, nil)
		assert.Equal(t, "partial", v)
	})
}

func TestDoPassesCallersContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	err := retry.Do(ctx, retry.Policy{}, func(got context.Context) error {
		assert.Equal(t, "v", got.Value(key{}))
		return nil
	})
	require.NoError(t, err)
}

func TestDoSuccessDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	p := retry.DefaultPolicy()
	fn := func(context.Context) error { return nil }
	allocs := testing.AllocsPerRun(100, func() {
		if err := retry.Do(ctx, p, fn); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestAttemptsErrorMessages(t *testing.T) {
	last := &classify.Error{Class: classify.ClassEphemeral, Status: 503}
	tests := []struct {
		err  *retry.AttemptsError
		want string
	}{
		{&retry.AttemptsError{Attempts: 3, Err: last, Reason: retry.ErrMaxAttempts},
			"retry: gave up after 3 attempts (max attempts reached): ephemeral: http 503 Service Unavailable"},
		{&retry.AttemptsError{Attempts: 2, Err: last, Reason: retry.ErrMaxElapsed},
			"retry: gave up after 2 attempts (max elapsed time reached): ephemeral: http 503 Service Unavailable"},
		{&retry.AttemptsError{Attempts: 1, Err: classify.Permanent(errBoom)},
			"retry: gave up after 1 attempt (permanent is not retried): permanent: boom"},
		{&retry.AttemptsError{Attempts: 4, Err: last, Reason: retry.ErrContextDone},
			"retry: gave up after 4 attempts (context done): ephemeral: http 503 Service Unavailable"},
		{&retry.AttemptsError{Attempts: 1, Err: errBoom, Reason: errors.New("retry: custom")},
			"retry: gave up after 1 attempt (custom): boom"},
	}
	for _, tt := range tests {
		assert.EqualError(t, tt.err, tt.want)
	}
}

func TestAttemptsErrorIs(t *testing.T) {
	err := error(&retry.AttemptsError{Attempts: 2, Err: context.Canceled, Reason: retry.ErrMaxAttempts})
	assert.ErrorIs(t, err, retry.ErrMaxAttempts)
	assert.NotErrorIs(t, err, retry.ErrMaxElapsed)
	assert.NotErrorIs(t, err, retry.ErrContextDone)
	assert.ErrorIs(t, err, context.Canceled, "the last error's chain is visible")

	final := error(&retry.AttemptsError{Attempts: 1, Err: errBoom})
	assert.NotErrorIs(t, final, retry.ErrMaxAttempts)
	assert.NotErrorIs(t, final, nil)
}
