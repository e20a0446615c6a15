package retry

import (
	"errors"
	"strconv"
	"strings"

	"github.com/outbound-go/outbound/classify"
)

// Why [Do] stopped retrying. An [*AttemptsError] matches the one that applies
// with errors.Is.
var (
	// ErrMaxAttempts means Policy.MaxAttempts attempts were made.
	ErrMaxAttempts = errors.New("retry: max attempts reached")
	// ErrMaxElapsed means the next attempt would have started later than
	// Policy.MaxElapsed after the first.
	ErrMaxElapsed = errors.New("retry: max elapsed time reached")
	// ErrContextDone means the caller's context ended, or its deadline would
	// have passed before the next attempt could start.
	ErrContextDone = errors.New("retry: context done")
)

// AttemptsError is the error [Do] and [DoValue] return when they give up: the
// last attempt's error, how many attempts were made, and why Do stopped.
//
// It unwraps to Err only, so [classify.Of] gives the class of the last
// attempt (a Permanent stays Permanent, an Ephemeral that ran out of
// attempts stays Ephemeral) and errors.Is and errors.As see Err's chain.
// errors.Is(err, ErrMaxAttempts), ErrMaxElapsed or ErrContextDone tells why
// Do stopped. Whether the context ended is deliberately not visible as
// context.Canceled in the chain, because classify would then report the
// last attempt as ClassUnavailable; check ctx.Err() for that.
type AttemptsError struct {
	// Attempts is how many times fn was called: 1 or more, or 0 when the
	// context had ended before the first attempt.
	Attempts int
	// Err is the error of the last attempt, or the context's error when no
	// attempt was made.
	Err error
	// Reason is ErrMaxAttempts, ErrMaxElapsed or ErrContextDone, or nil when
	// Do stopped because the class of Err is not retried (ClassPermanent,
	// ClassDiscard, ClassDuplicate, ClassOK).
	Reason error
}

// Error says how many attempts were made, why Do stopped and what the last
// attempt returned, for example
// "retry: gave up after 3 attempts (max attempts reached): ephemeral: http 503 Service Unavailable".
func (e *AttemptsError) Error() string {
	var b strings.Builder
	b.WriteString("retry: ")
	switch e.Attempts {
	case 0:
		b.WriteString("no attempt made")
	case 1:
		b.WriteString("gave up after 1 attempt")
	default:
		b.WriteString("gave up after ")
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(" attempts")
	}
	b.WriteString(" (")
	switch e.Reason {
	case nil:
		b.WriteString(classify.Of(e.Err).String())
		b.WriteString(" is not retried")
	case ErrMaxAttempts:
		b.WriteString("max attempts reached")
	case ErrMaxElapsed:
		b.WriteString("max elapsed time reached")
	case ErrContextDone:
		b.WriteString("context done")
	default:
		b.WriteString(strings.TrimPrefix(e.Reason.Error(), "retry: "))
	}
	b.WriteByte(')')
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the last attempt's error.
func (e *AttemptsError) Unwrap() error { return e.Err }

// Is reports whether target is one of ErrMaxAttempts, ErrMaxElapsed and
// ErrContextDone and is e's Reason.
func (e *AttemptsError) Is(target error) bool {
	switch target {
	case ErrMaxAttempts, ErrMaxElapsed, ErrContextDone:
		return target == e.Reason
	}
	return false
}

// reason maps a stopping verdict to the AttemptsError Reason.
func (v verdict) reason() error {
	switch v {
	case verdictAttempts:
		return ErrMaxAttempts
	case verdictElapsed:
		return ErrMaxElapsed
	}
	return nil
}
