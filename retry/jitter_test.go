package retry_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/retry"
)

// base is the un-jittered delay min(Max, Initial·Factor^(n−1)), computed
// independently of the package for an integral factor.
func base(e retry.Exponential, n int) time.Duration {
	d := e.Initial
	for i := 1; i < n; i++ {
		if d > e.Max/time.Duration(e.Factor) {
			return e.Max
		}
		d *= time.Duration(e.Factor)
	}
	return min(d, e.Max)
}

// jitterBounds returns the documented inclusive bounds of e.Delay(n).
func jitterBounds(e retry.Exponential, n int) (lo, hi time.Duration) {
	b := base(e, n)
	switch e.Jitter {
	case retry.FullJitter:
		return 0, b
	case retry.EqualJitter:
		return b / 2, b
	case retry.DecorrelatedJitter:
		prev := e.Initial
		if n > 1 {
			prev = base(e, n-1)
		}
		return e.Initial, min(e.Max, 3*prev)
	}
	return b, b
}

// TestJitterBounds draws 10,000 delays per strategy and attempt and checks
// that every one lies within the documented bounds, and that the draws
// really are spread over the whole range: the smallest and largest fall
// within 1% of the range of its ends and the mean within 3% of the middle.
// For a uniform distribution the chance of a false failure is below 1e-40.
func TestJitterBounds(t *testing.T) {
	const samples = 10_000
	for _, b := range []retry.Exponential{
		{Initial: time.Second, Max: time.Minute, Factor: 2},
		{Initial: time.Minute, Max: 6 * time.Hour, Factor: 3}, // the default, jittered
	} {
		for _, j := range []retry.Jitter{retry.FullJitter, retry.EqualJitter, retry.DecorrelatedJitter} {
			for _, attempt := range []int{1, 2, 4, 7, 1_000_000} {
				e := b
				e.Jitter = j
				lo, hi := jitterBounds(e, attempt)
				t.Run(fmt.Sprintf("%s/%v/attempt%d", j, b.Initial, attempt), func(t *testing.T) {
					require.Less(t, lo, hi)
					minSeen, maxSeen := time.Duration(math.MaxInt64), time.Duration(0)
					var sum float64
					for range samples {
						d := e.Delay(attempt)
						require.GreaterOrEqual(t, d, lo)
						require.LessOrEqual(t, d, hi)
						minSeen, maxSeen = min(minSeen, d), max(maxSeen, d)
						sum += float64(d)
					}
					span := float64(hi - lo)
					assert.LessOrEqual(t, float64(minSeen-lo), 0.01*span, "smallest draw %v not near %v", minSeen, lo)
					assert.LessOrEqual(t, float64(hi-maxSeen), 0.01*span, "largest draw %v not near %v", maxSeen, hi)
					assert.InDelta(t, float64(lo)+span/2, sum/samples, 0.03*span, "mean")
				})
			}
		}
	}
}

func TestJitterDecorrelatedCanExceedBase(t *testing.T) {
	// Decorrelated jitter spreads above base(n), up to 3 × base(n−1), which
	// is what distinguishes it from full jitter.
	e := retry.Exponential{Initial: time.Second, Max: time.Hour, Factor: 2, Jitter: retry.DecorrelatedJitter}
	above := 0
	for range 10_000 {
		if e.Delay(3) > 4*time.Second {
			above++
		}
	}
	// P(d > 4s) for d uniform in [1s, 6s] is 0.4.
	assert.InDelta(t, 4000, above, 300)
}

func TestJitterNoneIsExact(t *testing.T) {
	e := retry.DefaultBackoff()
	for range 1000 {
		require.Equal(t, 9*time.Minute, e.Delay(3))
	}
}

func TestJitterCollapsedRange(t *testing.T) {
	// Initial == Max leaves no room for decorrelated jitter; full and equal
	// jitter still spread below the single value.
	e := retry.Exponential{Initial: time.Second, Max: time.Second, Factor: 2, Jitter: retry.DecorrelatedJitter}
	for range 100 {
		require.Equal(t, time.Second, e.Delay(5))
	}
	e = retry.Exponential{Initial: time.Nanosecond, Max: time.Nanosecond, Factor: 1, Jitter: retry.EqualJitter}
	for range 100 {
		d := e.Delay(1)
		require.True(t, d == 0 || d == time.Nanosecond, "%v", d)
	}
}

func TestJitterFullRangeOfDuration(t *testing.T) {
	// The widest possible range must neither overflow nor panic.
	e := retry.Exponential{Initial: time.Nanosecond, Max: math.MaxInt64, Factor: 2}
	for _, j := range []retry.Jitter{retry.FullJitter, retry.EqualJitter, retry.DecorrelatedJitter} {
		e.Jitter = j
		for range 1000 {
			d := e.Delay(math.MaxInt)
			require.GreaterOrEqual(t, d, time.Duration(0))
		}
	}
}

func TestJitterString(t *testing.T) {
	assert.Equal(t, "none", retry.NoJitter.String())
	assert.Equal(t, "full", retry.FullJitter.String())
	assert.Equal(t, "equal", retry.EqualJitter.String())
	assert.Equal(t, "decorrelated", retry.DecorrelatedJitter.String())
	assert.Equal(t, "Jitter(4)", retry.Jitter(4).String())
	assert.True(t, retry.DecorrelatedJitter.Valid())
	assert.False(t, retry.Jitter(4).Valid())
	assert.False(t, retry.Jitter(-1).Valid())
}
