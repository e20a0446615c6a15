package retry_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/retry"
)

// FuzzPolicyConfig builds a Policy from fuzzed numbers: Validate either
// names a field or accepts it, and Next on it never panics and never
// returns a negative wait, for any attempt count, elapsed time and
// Retry-After.
func FuzzPolicyConfig(f *testing.F) {
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, int64(time.Hour)} {
		f.Add(int(v), v, v, v, v, 3.0, int(v), v, v)
		f.Add(10, int64(0), int64(0), int64(time.Minute), v, 2.0, 3, v, int64(30*time.Second))
		f.Add(0, v, int64(time.Hour), int64(time.Second), int64(time.Hour), math.NaN(), math.MaxInt, v, v)
	}
	f.Fuzz(func(t *testing.T, maxAttempts int, maxElapsed, maxRetryAfter, initial, maxDelay int64, factor float64, attempts int, elapsed, retryAfter int64) {
		p := retry.Policy{
			MaxAttempts: maxAttempts, MaxElapsed: time.Duration(maxElapsed), MaxRetryAfter: time.Duration(maxRetryAfter),
			Backoff: retry.Exponential{Initial: time.Duration(initial), Max: time.Duration(maxDelay), Factor: factor},
		}
		if err := p.Validate(); err != nil {
			assert.ErrorIs(t, err, retry.ErrInvalidSettings)
			assert.Contains(t, err.Error(), "Policy.")
		}
		for _, err := range []error{
			classify.Ephemeral(errors.New("503")),
			&classify.Error{Class: classify.ClassEphemeral, RetryAfter: time.Duration(retryAfter)},
			&classify.Error{Class: classify.ClassUnavailable, RetryAfter: time.Duration(retryAfter)},
		} {
			d, again := p.Next(attempts, time.Duration(elapsed), err)
			assert.GreaterOrEqual(t, d, time.Duration(0))
			if !again {
				assert.Zero(t, d)
			}
		}
	})
}
