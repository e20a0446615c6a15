package retry

import "time"

// Backoff gives the wait before a retry as a function of the attempt number
// alone, so that an in-process loop and a durable scheduler that stores only
// the next attempt time compute the same schedule.
//
// Delay(attempt) is the wait before retry number attempt: 1 is the wait after
// the first failed attempt, 2 after the second, and so on. Implementations
// must be safe for concurrent use and should treat an attempt below 1 as 1.
// [Policy.Next] treats a negative result as 0.
//
// A Backoff may also have a Validate() error method; [Policy.Validate] calls
// it.
type Backoff interface {
	Delay(attempt int) time.Duration
}

// BackoffFunc adapts an ordinary function to the [Backoff] interface.
type BackoffFunc func(attempt int) time.Duration

// Delay returns f(attempt), or 0 if f is nil. [BackoffFunc.Validate] and
// [Policy.Validate] report a nil function as an error.
func (f BackoffFunc) Delay(attempt int) time.Duration {
	if f == nil {
		return 0
	}
	return f(attempt)
}

// Validate returns an error wrapping [ErrInvalidSettings] if f is nil, and
// nil otherwise.
func (f BackoffFunc) Validate() error { return validateChecker("BackoffFunc", f) }

func (f BackoffFunc) check() (field, problem string) {
	if f == nil {
		return "", "is a nil function"
	}
	return "", ""
}

// Constant is a backoff that waits the same duration before every retry.
// Constant(0) retries at once, which suits only a small MaxAttempts.
type Constant time.Duration

// Delay returns c for every attempt, or 0 if c is negative.
func (c Constant) Delay(int) time.Duration { return max(time.Duration(c), 0) }

// Validate returns an error wrapping [ErrInvalidSettings] if c is negative,
// and nil otherwise.
func (c Constant) Validate() error { return validateChecker("Constant", c) }

func (c Constant) check() (field, problem string) {
	if c < 0 {
		return "", "is " + time.Duration(c).String() + "; it must not be negative"
	}
	return "", ""
}
