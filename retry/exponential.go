package retry

import (
	"math"
	"strconv"
	"time"
)

// Exponential is a backoff that grows by Factor after every failed attempt,
// up to Max, optionally randomised by Jitter. Without jitter the delay before
// retry n is
//
//	base(n) = min(Max, Initial × Factor^(n−1))
//
// so Initial 1m and Factor 3 give 1m, 3m, 9m, 27m, ... (see [DefaultBackoff]).
// The jitter strategies and their bounds are documented on [Jitter].
//
// Every field must be set: the zero Exponential is invalid, and [Validate]
// says which field is wrong rather than substituting a value. Use
// [DefaultBackoff] for the library's default. An Exponential is a plain value
// and is safe for concurrent use.
type Exponential struct {
	// Initial is the delay before the first retry. It must be positive.
	Initial time.Duration
	// Max caps every delay, with or without jitter. It must be at least
	// Initial. Because of it Delay never overflows: any attempt number,
	// however large, gives at most Max.
	Max time.Duration
	// Factor multiplies the delay after each failed attempt. It must be
	// finite and at least 1; 1 gives a constant delay of Initial.
	Factor float64
	// Jitter randomises the delays; the zero value NoJitter does not.
	Jitter Jitter
}

// DefaultBackoff returns the library's default backoff: Initial 1 minute,
// Factor 3, Max 6 hours, no jitter. The waits after failed attempts 1, 2, 3,
// ... are exactly
//
//	1m, 3m, 9m, 27m, 1h21m, 4h3m, 6h, 6h, ...
//
// The 6-hour cap keeps a record that keeps failing in front of its partner
// at least four times a day, and bounds how stale a retry can get after the
// partner recovers. It is unjittered so that the documented schedule is the
// real one; set Jitter on the returned value to spread retries of many
// records that failed together.
func DefaultBackoff() Exponential {
	return Exponential{Initial: time.Minute, Max: 6 * time.Hour, Factor: 3}
}

// Delay returns the wait before retry number attempt (1 is the wait after the
// first failed attempt), following the formula on [Exponential] and the
// bounds of e.Jitter. An attempt below 1 is treated as 1. The result is never
// negative and never more than Max, for any attempt up to math.MaxInt.
//
// Delay does not validate e. On settings that [Exponential.Validate] rejects
// it still never panics and never returns a negative duration, but the
// schedule is unspecified.
func (e Exponential) Delay(attempt int) time.Duration {
	base := e.base(attempt)
	switch e.Jitter {
	case FullJitter:
		return uniform(0, base)
	case EqualJitter:
		return uniform(base/2, base)
	case DecorrelatedJitter:
		if base <= 0 {
			return 0
		}
		prev := max(e.Initial, 0)
		if attempt > 1 {
			prev = e.base(attempt - 1)
		}
		return uniform(e.Initial, e.decorrelatedHigh(prev))
	}
	return base
}

// base returns the un-jittered delay before retry n: min(Max, Initial ×
// Factor^(n−1)), computed without overflow.
func (e Exponential) base(n int) time.Duration {
	if e.Initial <= 0 {
		return 0
	}
	ceiling := max(e.Max, e.Initial)
	if n <= 1 || !(e.Factor > 1) || math.IsInf(e.Factor, 1) {
		// Factor 1, and invalid factors, give a constant Initial.
		return min(e.Initial, ceiling)
	}
	// Factor > 1, so this grows with n and reaches +Inf rather than
	// wrapping; math.Pow is exact for the small integral powers of an
	// integral factor, which keeps the default schedule exact.
	d := float64(e.Initial) * math.Pow(e.Factor, float64(n-1))
	if d >= float64(ceiling) {
		return ceiling
	}
	return time.Duration(d)
}

// decorrelatedHigh returns min(Max, 3 × prev) without overflow.
func (e Exponential) decorrelatedHigh(prev time.Duration) time.Duration {
	ceiling := max(e.Max, e.Initial)
	if prev > ceiling/3 {
		return ceiling
	}
	return 3 * prev
}

// Validate reports the first invalid field of e, or nil if e is valid. The
// error wraps [ErrInvalidSettings] and names the field, for example
// "retry: invalid settings: Exponential.Factor is 0.5; it must be at least 1".
func (e Exponential) Validate() error { return validateChecker("Exponential", e) }

func (e Exponential) check() (field, problem string) {
	switch {
	case e.Initial <= 0:
		return "Initial", "is " + e.Initial.String() + "; it must be positive"
	case math.IsNaN(e.Factor) || math.IsInf(e.Factor, 0):
		return "Factor", "is " + formatFloat(e.Factor) + "; it must be a finite number of at least 1"
	case e.Factor < 1:
		return "Factor", "is " + formatFloat(e.Factor) + "; it must be at least 1"
	case e.Max < e.Initial:
		return "Max", "is " + e.Max.String() + "; it must be at least Initial (" + e.Initial.String() + ")"
	case !e.Jitter.Valid():
		return "Jitter", "is " + e.Jitter.String() + "; it must be NoJitter, FullJitter, EqualJitter or DecorrelatedJitter"
	}
	return "", ""
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
