package health

import (
	"strconv"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// Sentinel errors for the states a caller of a gate branches on. The errors
// returned by [Gate.Allow], [Monitor.Allow] and [Breaker.Allow] wrap one of
// them inside a [classify.Error] of class ClassUnavailable, so both
// errors.Is(err, health.ErrDown) and classify.Of(err) work.
//
// Both name their cause for classify.Cause: "health_down" and
// "breaker_open", so metrics and failure counters tell a refusal from a
// partner failure.
var (
	// ErrDown means a monitor holds its destination to be down.
	ErrDown error = &stateError{msg: "health: destination is down", cause: "health_down"}
	// ErrBreakerOpen means a circuit breaker refused the call: it is open,
	// or half-open with all of its probe requests already in flight.
	ErrBreakerOpen error = &stateError{msg: "health: circuit breaker is open", cause: "breaker_open"}
)

// stateError is a sentinel that names its cause for classify.Cause.
type stateError struct{ msg, cause string }

func (e *stateError) Error() string        { return e.msg }
func (e *stateError) OutcomeCause() string { return e.cause }

// minRetryHint is the smallest Retry-After hint the package hands out, so a
// caller that acts on a hint computed a moment before a deadline does not
// spin.
const minRetryHint = time.Millisecond

// DownError says which destination is down, since when, and the error of
// its latest failed check. It matches [ErrDown] with errors.Is and unwraps
// to the cause.
type DownError struct {
	// Name is the monitor's name.
	Name string
	// Since is when the destination went down.
	Since time.Time
	// Cause is the error of the latest failed check.
	Cause error
}

// Error names the destination and the time it went down, followed by the
// cause redacted and bounded (no query strings, credentials or headers),
// because gate errors end up in logs and dead letters.
func (e *DownError) Error() string {
	s := "health: " + strconv.Quote(e.Name) + " is down since " + e.Since.UTC().Format(time.RFC3339)
	if e.Cause != nil {
		s += ": " + Redact(e.Cause.Error())
	}
	return s
}

// Is reports whether target is [ErrDown].
func (e *DownError) Is(target error) bool { return target == ErrDown }

// Unwrap returns the cause.
func (e *DownError) Unwrap() error { return e.Cause }

// OutcomeCause names the cause for classify.Cause: "health_down", whatever
// the failed check's own error was.
func (e *DownError) OutcomeCause() string { return "health_down" }

// unavailable marks err as ClassUnavailable with a Retry-After hint of at
// least minRetryHint, in one allocation.
func unavailable(err error, hint time.Duration) error {
	return &classify.Error{Class: classify.ClassUnavailable, RetryAfter: max(hint, minRetryHint), Err: err}
}
