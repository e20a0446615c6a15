package retry_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/retry"
)

func TestDefaultBackoffSchedule(t *testing.T) {
	b := retry.DefaultBackoff()
	require.NoError(t, b.Validate())
	assert.Equal(t, retry.Exponential{Initial: time.Minute, Max: 6 * time.Hour, Factor: 3, Jitter: retry.NoJitter}, b)

	want := []time.Duration{
		1 * time.Minute,
		3 * time.Minute,
		9 * time.Minute,
		27 * time.Minute,
		81 * time.Minute,  // 1h21m
		243 * time.Minute, // 4h3m
		6 * time.Hour,     // 729m capped
		6 * time.Hour,
		6 * time.Hour,
	}
	for i, w := range want {
		assert.Equal(t, w, b.Delay(i+1), "Delay(%d)", i+1)
	}
}

func TestExponentialCapHoldsForHugeAttempts(t *testing.T) {
	backoffs := []retry.Exponential{
		retry.DefaultBackoff(),
		{Initial: time.Millisecond, Max: time.Second, Factor: 2},
		{Initial: time.Nanosecond, Max: math.MaxInt64, Factor: 1.5},
		{Initial: time.Second, Max: time.Hour, Factor: 1e300},
		{Initial: time.Hour, Max: math.MaxInt64, Factor: math.MaxFloat64},
	}
	for _, b := range backoffs {
		require.NoError(t, b.Validate())
		for _, attempt := range []int{1000, 1_000_000, math.MaxInt32, math.MaxInt - 1, math.MaxInt} {
			assert.Equal(t, b.Max, b.Delay(attempt), "%+v Delay(%d)", b, attempt)
		}
	}

	// Growth of 1e-7 per attempt reaches 60 × Initial only after about
	// 41 million attempts, and must not overshoot on the way.
	slow := retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 1.0000001}
	assert.InDelta(t, math.Exp(0.1)*float64(time.Second), float64(slow.Delay(1_000_001)), float64(time.Microsecond))
	assert.Equal(t, time.Minute, slow.Delay(41_000_000))
	assert.Equal(t, time.Minute, slow.Delay(math.MaxInt))
}

func TestExponentialLargeValuesNeverWrap(t *testing.T) {
	// A factor so close to 1 that Max is reached only after a very large
	// number of attempts: every value on the way must stay in range.
	b := retry.Exponential{Initial: time.Hour, Max: math.MaxInt64, Factor: 1.001}
	prev := time.Duration(0)
	for attempt := 1; attempt < 1<<40; attempt *= 2 {
		d := b.Delay(attempt)
		require.GreaterOrEqual(t, d, prev, "Delay(%d)", attempt)
		require.Positive(t, d)
		prev = d
	}
	assert.Equal(t, time.Duration(math.MaxInt64), b.Delay(1_000_000))
}

func TestExponentialAttemptBelowOneIsFirstRetry(t *testing.T) {
	b := retry.DefaultBackoff()
	assert.Equal(t, time.Minute, b.Delay(0))
	assert.Equal(t, time.Minute, b.Delay(-7))
	assert.Equal(t, time.Minute, b.Delay(math.MinInt))
}

func TestExponentialFactorOneIsConstant(t *testing.T) {
	b := retry.Exponential{Initial: 5 * time.Second, Max: time.Minute, Factor: 1}
	require.NoError(t, b.Validate())
	for _, attempt := range []int{1, 2, 10, 1_000_000} {
		assert.Equal(t, 5*time.Second, b.Delay(attempt))
	}
}

func TestExponentialNonIntegralFactor(t *testing.T) {
	b := retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 1.5}
	assert.Equal(t, time.Second, b.Delay(1))
	assert.Equal(t, 1500*time.Millisecond, b.Delay(2))
	assert.Equal(t, 2250*time.Millisecond, b.Delay(3))
	assert.Equal(t, time.Duration(float64(time.Second)*math.Pow(1.5, 10)), b.Delay(11)) // 57.7s
	assert.Equal(t, time.Minute, b.Delay(12))                                           // 86.5s capped
	assert.Equal(t, time.Duration(float64(time.Second)*math.Pow(1.5, 9)), b.Delay(10))
}

func TestExponentialValidate(t *testing.T) {
	valid := retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 2}
	tests := []struct {
		name    string
		mutate  func(*retry.Exponential)
		wantErr string
	}{
		{"valid", func(*retry.Exponential) {}, ""},
		{"Max equals Initial", func(e *retry.Exponential) { e.Max = e.Initial }, ""},
		{"Factor 1", func(e *retry.Exponential) { e.Factor = 1 }, ""},
		{"every jitter", func(e *retry.Exponential) { e.Jitter = retry.DecorrelatedJitter }, ""},
		{"zero value", func(e *retry.Exponential) { *e = retry.Exponential{} },
			"retry: invalid settings: Exponential.Initial is 0s; it must be positive"},
		{"negative Initial", func(e *retry.Exponential) { e.Initial = -time.Second },
			"retry: invalid settings: Exponential.Initial is -1s; it must be positive"},
		{"zero Factor", func(e *retry.Exponential) { e.Factor = 0 },
			"retry: invalid settings: Exponential.Factor is 0; it must be at least 1"},
		{"Factor below 1", func(e *retry.Exponential) { e.Factor = 0.5 },
			"retry: invalid settings: Exponential.Factor is 0.5; it must be at least 1"},
		{"NaN Factor", func(e *retry.Exponential) { e.Factor = math.NaN() },
			"retry: invalid settings: Exponential.Factor is NaN; it must be a finite number of at least 1"},
		{"infinite Factor", func(e *retry.Exponential) { e.Factor = math.Inf(1) },
			"retry: invalid settings: Exponential.Factor is +Inf; it must be a finite number of at least 1"},
		{"Max below Initial", func(e *retry.Exponential) { e.Max = time.Millisecond },
			"retry: invalid settings: Exponential.Max is 1ms; it must be at least Initial (1s)"},
		{"zero Max", func(e *retry.Exponential) { e.Max = 0 },
			"retry: invalid settings: Exponential.Max is 0s; it must be at least Initial (1s)"},
		{"unknown Jitter", func(e *retry.Exponential) { e.Jitter = 9 },
			"retry: invalid settings: Exponential.Jitter is Jitter(9); it must be NoJitter, FullJitter, EqualJitter or DecorrelatedJitter"},
		{"negative Jitter", func(e *retry.Exponential) { e.Jitter = -1 },
			"retry: invalid settings: Exponential.Jitter is Jitter(-1); it must be NoJitter, FullJitter, EqualJitter or DecorrelatedJitter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			tt.mutate(&e)
			err := e.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			assert.True(t, errors.Is(err, retry.ErrInvalidSettings))
		})
	}
}

// Delay on settings that Validate rejects is unspecified but must stay safe:
// no panic, no negative or wrapped duration.
func TestExponentialInvalidSettingsStaySafe(t *testing.T) {
	invalid := []retry.Exponential{
		{},
		{Initial: -time.Second, Max: time.Minute, Factor: 2},
		{Initial: time.Second, Max: time.Minute, Factor: 0.5},
		{Initial: time.Second, Max: time.Minute, Factor: -3},
		{Initial: time.Second, Max: time.Minute, Factor: math.NaN()},
		{Initial: time.Second, Max: time.Minute, Factor: math.Inf(1)},
		{Initial: time.Second, Max: time.Minute, Factor: math.Inf(-1)},
		{Initial: time.Minute, Max: time.Second, Factor: 2},
		{Initial: time.Minute, Max: -time.Hour, Factor: 2},
		{Initial: math.MaxInt64, Max: math.MaxInt64, Factor: 2, Jitter: 42},
	}
	for _, e := range invalid {
		require.Error(t, e.Validate(), "%+v", e)
		for _, j := range []retry.Jitter{retry.NoJitter, retry.FullJitter, retry.EqualJitter, retry.DecorrelatedJitter, 42} {
			e.Jitter = j
			for _, attempt := range []int{math.MinInt, 0, 1, 2, 50, 1_000_000, math.MaxInt} {
				d := e.Delay(attempt)
				assert.GreaterOrEqual(t, d, time.Duration(0), "%+v Delay(%d)", e, attempt)
				assert.LessOrEqual(t, d, max(e.Initial, e.Max, 0), "%+v Delay(%d)", e, attempt)
			}
		}
	}
}
