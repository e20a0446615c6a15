package retry_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/retry"
)

var errBoom = errors.New("boom")

func ephemeral() error   { return classify.Ephemeral(errBoom) }
func unavailable() error { return classify.Unavailable(errBoom) }

// withRetryAfter returns an error of class c with a Retry-After hint, as
// classify.HTTPRules produces for a 429 or 503.
func withRetryAfter(c classify.Class, d time.Duration) error {
	return &classify.Error{Class: c, Status: 503, RetryAfter: d}
}

// validatingBackoff is a user-defined Backoff with a Validate method.
type validatingBackoff struct{ err error }

func (validatingBackoff) Delay(int) time.Duration { return time.Second }
func (v validatingBackoff) Validate() error       { return v.err }

func TestPolicyValidate(t *testing.T) {
	var nilExp *retry.Exponential
	tests := []struct {
		name    string
		p       retry.Policy
		wantErr string
	}{
		{"zero policy", retry.Policy{}, ""},
		{"default policy", retry.DefaultPolicy(), ""},
		{"one attempt", retry.Policy{MaxAttempts: 1}, ""},
		{"pointer to Exponential", retry.Policy{Backoff: &retry.Exponential{Initial: 1, Max: 1, Factor: 1}}, ""},
		{"Constant", retry.Policy{Backoff: retry.Constant(time.Second)}, ""},
		{"valid user backoff", retry.Policy{Backoff: validatingBackoff{}}, ""},
		{"negative MaxAttempts", retry.Policy{MaxAttempts: -1},
			"retry: invalid settings: Policy.MaxAttempts is -1; it must be at least 1, or 0 for the default (10)"},
		{"negative MaxElapsed", retry.Policy{MaxElapsed: -time.Second},
			"retry: invalid settings: Policy.MaxElapsed is -1s; it must be positive, or 0 for no limit"},
		{"negative MaxRetryAfter", retry.Policy{MaxRetryAfter: -time.Minute},
			"retry: invalid settings: Policy.MaxRetryAfter is -1m0s; it must be positive, or 0 for the default (6h0m0s)"},
		{"invalid Exponential", retry.Policy{Backoff: retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 0.5}},
			"retry: invalid settings: Policy.Backoff.Factor is 0.5; it must be at least 1"},
		{"zero Exponential", retry.Policy{Backoff: retry.Exponential{}},
			"retry: invalid settings: Policy.Backoff.Initial is 0s; it must be positive"},
		{"nil *Exponential", retry.Policy{Backoff: nilExp},
			"retry: invalid settings: Policy.Backoff is a nil *retry.Exponential"},
		{"nil BackoffFunc", retry.Policy{Backoff: retry.BackoffFunc(nil)},
			"retry: invalid settings: Policy.Backoff is a nil retry.BackoffFunc"},
		{"negative Constant", retry.Policy{Backoff: retry.Constant(-1)},
			"retry: invalid settings: Policy.Backoff is -1ns; it must not be negative"},
		{"invalid user backoff", retry.Policy{Backoff: validatingBackoff{err: errors.New("window must be positive")}},
			"retry: invalid settings: Policy.Backoff: window must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			assert.True(t, errors.Is(err, retry.ErrInvalidSettings))
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := retry.DefaultPolicy()
	assert.Equal(t, retry.DefaultBackoff(), p.Backoff)
	assert.Equal(t, 10, p.MaxAttempts)
	assert.Equal(t, retry.DefaultMaxAttempts, p.MaxAttempts)
	assert.Zero(t, p.MaxElapsed)
	assert.Equal(t, 6*time.Hour, p.MaxRetryAfter)
	assert.Nil(t, p.OnRetry)
}

// The zero Policy means DefaultPolicy: every decision is the same.
func TestZeroPolicyDecidesLikeDefault(t *testing.T) {
	zero, def := retry.Policy{}, retry.DefaultPolicy()
	errs := []error{nil, ephemeral(), unavailable(), classify.Permanent(errBoom),
		withRetryAfter(classify.ClassEphemeral, 2*time.Hour), withRetryAfter(classify.ClassEphemeral, 100*time.Hour)}
	for _, err := range errs {
		for attempts := 0; attempts <= 12; attempts++ {
			for _, elapsed := range []time.Duration{0, time.Hour, 1000 * time.Hour} {
				d1, ok1 := zero.Next(attempts, elapsed, err)
				d2, ok2 := def.Next(attempts, elapsed, err)
				require.Equal(t, ok2, ok1, "attempts %d err %v", attempts, err)
				require.Equal(t, d2, d1, "attempts %d err %v", attempts, err)
			}
		}
	}
}

func TestNextClasses(t *testing.T) {
	p := retry.DefaultPolicy()
	tests := []struct {
		name  string
		err   error
		retry bool
	}{
		{"nil", nil, false},
		{"explicit OK", classify.New(classify.ClassOK, nil), false},
		{"Duplicate", classify.Duplicate(errBoom), false},
		{"Permanent", classify.Permanent(errBoom), false},
		{"Discard", classify.Discard(errBoom), false},
		{"wrapped Permanent", fmt.Errorf("send: %w", classify.Permanent(errBoom)), false},
		{"certificate error", &url.Error{Op: "Post", URL: "https://x", Err: x509.UnknownAuthorityError{}}, false},
		{"Ephemeral", ephemeral(), true},
		{"Unavailable", unavailable(), true},
		{"plain error is inferred Ephemeral", errBoom, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"context.Canceled is Unavailable", context.Canceled, true},
		{"Permanent reclassified as Ephemeral", classify.Ephemeral(classify.Permanent(errBoom)), true},
		{"joined: first explicit class wins", errors.Join(errBoom, classify.Discard(errBoom), ephemeral()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := p.Next(1, 0, tt.err)
			assert.Equal(t, tt.retry, ok)
			if tt.retry {
				assert.Equal(t, time.Minute, d)
			} else {
				assert.Zero(t, d)
			}
		})
	}
}

func TestNextMaxAttemptsEphemeral(t *testing.T) {
	p := retry.Policy{MaxAttempts: 3}
	d, ok := p.Next(1, 0, ephemeral())
	assert.True(t, ok)
	assert.Equal(t, time.Minute, d)
	d, ok = p.Next(2, 0, ephemeral())
	assert.True(t, ok)
	assert.Equal(t, 3*time.Minute, d)
	_, ok = p.Next(3, 0, ephemeral())
	assert.False(t, ok, "third attempt was the last")

	_, ok = retry.Policy{MaxAttempts: 1}.Next(1, 0, ephemeral())
	assert.False(t, ok, "MaxAttempts 1 never retries")

	_, ok = retry.Policy{}.Next(9, 0, ephemeral())
	assert.True(t, ok)
	_, ok = retry.Policy{}.Next(10, 0, ephemeral())
	assert.False(t, ok, "default is 10 attempts")
}

func TestNextUnavailableIsNeverExhausted(t *testing.T) {
	p := retry.Policy{MaxAttempts: 3, MaxElapsed: time.Hour}
	// Far beyond MaxAttempts and MaxElapsed: Unavailable did not count.
	d, ok := p.Next(50, 72*time.Hour, unavailable())
	assert.True(t, ok)
	assert.Equal(t, 6*time.Hour, d, "the backoff for the attempts given, capped")

	// Gated before the first attempt: attempts 0 is treated as 1.
	d, ok = p.Next(0, 0, unavailable())
	assert.True(t, ok)
	assert.Equal(t, time.Minute, d)

	// A gate that knows when to look again sets the floor.
	d, ok = p.Next(1, 0, withRetryAfter(classify.ClassUnavailable, 20*time.Minute))
	assert.True(t, ok)
	assert.Equal(t, 20*time.Minute, d)

	// An Ephemeral in the same position stops.
	_, ok = p.Next(50, 72*time.Hour, ephemeral())
	assert.False(t, ok)
}

func TestNextMaxElapsed(t *testing.T) {
	p := retry.Policy{MaxElapsed: 30 * time.Minute}
	// Attempts start at 0, 1m, 4m, 13m. After attempt 3 fails (at 4m) the
	// 9m wait starts attempt 4 at 13m, within 30m; after attempt 4 fails (at
	// 13m) the 27m wait would start attempt 5 at 40m: too late.
	d, ok := p.Next(3, 4*time.Minute, ephemeral())
	assert.True(t, ok)
	assert.Equal(t, 9*time.Minute, d)
	_, ok = p.Next(4, 13*time.Minute, ephemeral())
	assert.False(t, ok)

	// Exactly at the limit is allowed; one nanosecond over is not.
	_, ok = p.Next(1, 29*time.Minute, ephemeral())
	assert.True(t, ok)
	_, ok = p.Next(1, 29*time.Minute+1, ephemeral())
	assert.False(t, ok)

	// Already past the limit, and absurd values, stop without overflow.
	_, ok = p.Next(1, 31*time.Minute, ephemeral())
	assert.False(t, ok)
	_, ok = p.Next(1, math.MaxInt64, ephemeral())
	assert.False(t, ok)
	_, ok = retry.Policy{MaxElapsed: math.MaxInt64, Backoff: retry.Constant(math.MaxInt64)}.Next(1, math.MaxInt64-1, ephemeral())
	assert.False(t, ok)

	// A negative elapsed (a clock step) counts as 0.
	d, ok = p.Next(1, -time.Hour, ephemeral())
	assert.True(t, ok)
	assert.Equal(t, time.Minute, d)

	// A Retry-After floor counts against MaxElapsed too.
	_, ok = p.Next(1, 0, withRetryAfter(classify.ClassEphemeral, time.Hour))
	assert.False(t, ok)
}

func TestNextRetryAfterFloorAndCap(t *testing.T) {
	p := retry.DefaultPolicy()
	tests := []struct {
		name       string
		attempts   int
		retryAfter time.Duration
		maxRA      time.Duration
		want       time.Duration
	}{
		{"longer than backoff: floor applies", 1, 5 * time.Minute, 0, 5 * time.Minute},
		{"shorter than backoff: backoff wins", 3, 30 * time.Second, 0, 9 * time.Minute},
		{"beyond default cap: capped at 6h", 1, 48 * time.Hour, 0, 6 * time.Hour},
		{"beyond a custom cap", 1, 2 * time.Hour, 10 * time.Minute, 10 * time.Minute},
		{"custom cap below backoff: backoff wins", 4, 2 * time.Hour, 10 * time.Minute, 27 * time.Minute},
		{"exactly the cap", 1, 6 * time.Hour, 0, 6 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			q.MaxRetryAfter = tt.maxRA
			d, ok := q.Next(tt.attempts, 0, withRetryAfter(classify.ClassEphemeral, tt.retryAfter))
			require.True(t, ok)
			assert.Equal(t, tt.want, d)
		})
	}

	// A hint buried under wrapping is found, as classify.RetryAfter finds it.
	wrapped := fmt.Errorf("deliver: %w", classify.WithRetryAfter(classify.Ephemeral(errBoom), 42*time.Minute))
	d, ok := p.Next(1, 0, wrapped)
	require.True(t, ok)
	assert.Equal(t, 42*time.Minute, d)
}

// Jitter never brings a retry before the partner's Retry-After.
func TestNextJitterNeverUndercutsRetryAfter(t *testing.T) {
	for _, j := range []retry.Jitter{retry.FullJitter, retry.EqualJitter, retry.DecorrelatedJitter} {
		p := retry.Policy{Backoff: retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: j}}
		err := withRetryAfter(classify.ClassEphemeral, 10*time.Second)
		for attempts := 1; attempts <= 9; attempts++ {
			for range 2000 {
				d, ok := p.Next(attempts, 0, err)
				require.True(t, ok)
				require.GreaterOrEqual(t, d, 10*time.Second, "%s attempts %d", j, attempts)
				require.LessOrEqual(t, d, time.Minute)
			}
		}
	}
}

func TestNextNegativeBackoffCountsAsZero(t *testing.T) {
	p := retry.Policy{Backoff: retry.BackoffFunc(func(int) time.Duration { return -time.Hour })}
	d, ok := p.Next(1, 0, ephemeral())
	assert.True(t, ok)
	assert.Zero(t, d)
}

func TestNextPassesAttemptsToBackoff(t *testing.T) {
	var got []int
	p := retry.Policy{Backoff: retry.BackoffFunc(func(n int) time.Duration {
		got = append(got, n)
		return time.Duration(n)
	}), MaxAttempts: 100}
	for _, a := range []int{-3, 0, 1, 2, 50} {
		p.Next(a, 0, ephemeral())
	}
	assert.Equal(t, []int{1, 1, 1, 2, 50}, got)
}

// On a policy Validate rejects, Next is unspecified but safe.
func TestNextInvalidPolicyIsSafe(t *testing.T) {
	for _, p := range []retry.Policy{
		{MaxAttempts: -5},
		{MaxElapsed: -time.Second},
		{MaxRetryAfter: -time.Second},
		{Backoff: retry.BackoffFunc(nil)},
		{Backoff: retry.Exponential{}},
		{Backoff: retry.Constant(-time.Second)},
	} {
		require.Error(t, p.Validate())
		for _, err := range []error{ephemeral(), unavailable(), withRetryAfter(classify.ClassEphemeral, time.Hour)} {
			assert.NotPanics(t, func() {
				d, _ := p.Next(2, time.Minute, err)
				assert.GreaterOrEqual(t, d, time.Duration(0))
			})
		}
	}
}

// One Policy value is shared by every worker of a dispatcher; run with -race.
func TestNextConcurrentUse(t *testing.T) {
	p := retry.Policy{Backoff: retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 2, Jitter: retry.DecorrelatedJitter}}
	err := withRetryAfter(classify.ClassEphemeral, 5*time.Second)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for a := 1; a <= 2000; a++ {
				if d, ok := p.Next(a%9+1, 0, err); ok && (d < 5*time.Second || d > time.Minute) {
					t.Errorf("Next(%d) = %v out of bounds", a%9+1, d)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
