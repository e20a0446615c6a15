package health

import (
	"context"
	"errors"
	"fmt"
)

// Checker checks one dependency. Check returns nil when the dependency is
// healthy and an error saying why not otherwise; it must return promptly
// once ctx ends. Errors are best marked with a class (see the classify
// package); an unmarked error is classified by classify.Of.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to the [Checker] interface.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx) and returns its error.
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// runCheck runs c, turning a panic into an error: a broken Checker should
// count as a failed check, not crash the service or leave a probe's
// waiters hanging.
func runCheck(ctx context.Context, c Checker) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.New("health: checker panicked: " + fmt.Sprint(p))
		}
	}()
	return c.Check(ctx)
}
