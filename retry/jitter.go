package retry

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Jitter selects how an [Exponential] backoff randomises its delays, so that
// many clients that failed together do not retry together.
//
// With base(n) = min(Max, Initial × Factor^(n−1)), the un-jittered delay
// before retry n, the strategies give (all bounds inclusive):
//
//	NoJitter            base(n)
//	FullJitter          uniform in [0, base(n)]
//	EqualJitter         uniform in [base(n)/2, base(n)]
//	DecorrelatedJitter  uniform in [Initial, min(Max, 3 × prev(n))],
//	                    prev(1) = Initial, prev(n) = base(n−1)
//
// FullJitter spreads load best but may retry at once; EqualJitter keeps at
// least half of the backoff. DecorrelatedJitter is the stateless form of the
// "decorrelated jitter" of the AWS Architecture Blog ("Exponential Backoff
// and Jitter"): that algorithm draws each delay from [Initial, 3 × the
// previous delay]; here the previous delay is taken to be the un-jittered
// base(n−1), so the delay depends only on the attempt number and a durable
// scheduler that stores nothing but the next attempt time can use it. It is
// never shorter than Initial and may exceed base(n), up to Max.
//
// No strategy ever makes a retry fire before a partner's Retry-After:
// [Policy.Next] applies the Retry-After floor after jitter.
//
// The randomness comes from math/rand/v2's global source, which is safe for
// concurrent use and needs no seeding.
type Jitter int

// The jitter strategies. The zero value is NoJitter.
const (
	// NoJitter uses base(n) as it is: the documented schedule is the real one.
	NoJitter Jitter = iota
	// FullJitter draws the delay uniformly from [0, base(n)].
	FullJitter
	// EqualJitter draws the delay uniformly from [base(n)/2, base(n)].
	EqualJitter
	// DecorrelatedJitter draws the delay uniformly from
	// [Initial, min(Max, 3 × prev(n))], where prev(1) = Initial and
	// prev(n) = base(n−1).
	DecorrelatedJitter
)

// String returns the strategy's name ("none", "full", "equal",
// "decorrelated"), or "Jitter(N)" for an undefined value.
func (j Jitter) String() string {
	switch j {
	case NoJitter:
		return "none"
	case FullJitter:
		return "full"
	case EqualJitter:
		return "equal"
	case DecorrelatedJitter:
		return "decorrelated"
	}
	return "Jitter(" + strconv.Itoa(int(j)) + ")"
}

// Valid reports whether j is one of the defined strategies.
func (j Jitter) Valid() bool { return j >= NoJitter && j <= DecorrelatedJitter }

// uniform returns a random duration in [lo, hi], both inclusive. It returns
// lo when hi <= lo.
func uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	span := int64(hi - lo)
	if span == math.MaxInt64 {
		// span+1 would overflow; the one value lost is immaterial.
		return lo + time.Duration(rand.Int64N(span))
	}
	return lo + time.Duration(rand.Int64N(span+1))
}
