package health

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dependency is a named [Checker]: something a service needs, such as its
// database, its queue or a partner's API.
type Dependency struct {
	// Name names the dependency in errors and reports.
	Name string
	// Checker checks it. A [*Monitor] is a Checker too, so passing
	// monitors to Startup also decides their first state.
	Checker Checker
}

// StartupError is the error of [Startup]: every dependency that failed.
type StartupError struct {
	// Total is how many dependencies were checked.
	Total int
	// Failures lists the failed dependencies in the order they were given.
	Failures []Failure
}

// Failure is one failed dependency of a [StartupError].
type Failure struct {
	// Name is the dependency's name.
	Name string
	// Err is why it failed: its Checker's error, or the deadline or
	// cancellation that cut it short.
	Err error
}

// Error names every failed dependency with its error, redacted and
// bounded as by [Redact], in the order they were given.
func (e *StartupError) Error() string {
	var b strings.Builder
	b.WriteString("health: startup: ")
	b.WriteString(strconv.Itoa(len(e.Failures)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(e.Total))
	b.WriteString(" checks failed")
	for i, f := range e.Failures {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(Redact(f.Err.Error()))
	}
	return b.String()
}

// Unwrap returns the failures' errors, so errors.Is and errors.As look
// into each of them.
func (e *StartupError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f.Err
	}
	return errs
}

// Startup runs every dependency's check concurrently and waits at most
// timeout for them, so a service can refuse to start (and let its
// orchestrator try elsewhere) instead of running half-connected. It returns
// nil when every check passed, and otherwise a [*StartupError] naming every
// failure; a check still running at the deadline fails with "no answer".
//
// Startup returns by the deadline even if a Checker ignores its context;
// such a check's goroutine then runs on until the Checker returns. It
// returns a plain error, before checking anything, when timeout is not
// positive or a dependency has no name, a duplicate name or no Checker.
func Startup(ctx context.Context, timeout time.Duration, deps ...Dependency) error {
	if timeout <= 0 {
		return fmt.Errorf("health: Startup: timeout must be positive, got %v", timeout)
	}
	seen := make(map[string]bool, len(deps))
	for i, d := range deps {
		switch {
		case d.Name == "":
			return fmt.Errorf("health: Startup: dependency %d has no Name", i)
		case seen[d.Name]:
			return fmt.Errorf("health: Startup: dependency name %q is used twice", d.Name)
		case d.Checker == nil:
			return fmt.Errorf("health: Startup: dependency %q has no Checker", d.Name)
		}
		seen[d.Name] = true
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		i   int
		err error
	}
	// Buffered, so a check that answers after the deadline does not block.
	results := make(chan result, len(deps))
	for i, d := range deps {
		go func() { results <- result{i, runCheck(ctx, d.Checker)} }()
	}
	errs := make([]error, len(deps))
	answered := make([]bool, len(deps))
wait:
	for range deps {
		select {
		case r := <-results:
			errs[r.i], answered[r.i] = r.err, true
		case <-ctx.Done():
			break wait
		}
	}
	for len(results) > 0 { // answers that came in with the deadline
		r := <-results
		errs[r.i], answered[r.i] = r.err, true
	}

	serr := &StartupError{Total: len(deps)}
	for i, d := range deps {
		err := errs[i]
		if !answered[i] {
			err = fmt.Errorf("no answer within %v: %w", timeout, ctx.Err())
		}
		if err != nil {
			serr.Failures = append(serr.Failures, Failure{Name: d.Name, Err: err})
		}
	}
	if len(serr.Failures) == 0 {
		return nil
	}
	return serr
}
