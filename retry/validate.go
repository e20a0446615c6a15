package retry

import (
	"errors"
	"fmt"
)

// ErrInvalidSettings is the error every Validate method in this package
// wraps. The message names the offending field, for example
//
//	retry: invalid settings: Exponential.Factor is 0.5; it must be at least 1
//
// Callers that only need to know "the configuration is wrong" test for it
// with errors.Is.
var ErrInvalidSettings = errors.New("retry: invalid settings")

// checker is implemented by this package's own backoffs, so that
// [Policy.Validate] can report a problem as "Policy.Backoff.Factor ..."
// rather than nesting one "retry: invalid settings" message in another.
type checker interface {
	// check returns the name of the first invalid field (relative to the
	// value, e.g. "Factor", or "" for the value itself) and what is wrong
	// with it, or "", "" when the value is valid.
	check() (field, problem string)
}

// invalid returns the error for field having the given problem.
func invalid(field, problem string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalidSettings, field, problem)
}

// validateChecker turns the result of c.check into an error, naming the
// field under prefix ("Exponential" or "Policy.Backoff").
func validateChecker(prefix string, c checker) error {
	field, problem := c.check()
	if problem == "" {
		return nil
	}
	if field != "" {
		prefix += "." + field
	}
	return invalid(prefix, problem)
}
