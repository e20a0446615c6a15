package health

import (
	"context"
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"

	"github.com/outbound-go/outbound/classify"
)

// Do runs call if the breaker lets a call through now, reports call's
// outcome to the breaker and returns call's error; otherwise it returns
// the refusal Allow would return, without running call. It is Allow and
// its done in one step for a call made in the caller's frame, through
// gobreaker's Execute, and allocates nothing on the success path (Allow
// costs three allocations: gobreaker's done func, the func wrapping it and
// its once-guard). If call panics, the breaker's slot is released as an
// outcome it does not count, and the panic propagates.
func (b *CircuitBreaker) Do(ctx context.Context, call func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return b.ended(err)
	}
	if b.exec == nil {
		return b.doTwoStep(ctx, call)
	}
	defer b.flush() // on a panic too
	var err error
	ran := false
	// gobreaker counts what the func returns: the outcome, not call's
	// error. A panic reaches gobreaker as an error of its own making,
	// which IsExcluded does not count (see newCircuitBreaker).
	_, refused := b.exec.Execute(func() (struct{}, error) {
		ran = true
		err = call(ctx)
		return struct{}{}, outcome(ctx, err)
	})
	if !ran {
		return b.refusal(refused)
	}
	return err
}

// doTwoStep is Do through the two-step breaker, for when exec is nil.
func (b *CircuitBreaker) doTwoStep(ctx context.Context, call func(context.Context) error) error {
	done, err := b.begin(ctx)
	if err != nil {
		return err
	}
	settled := false
	defer func() {
		if !settled { // call panicked
			done(errExcluded)
			b.flush()
		}
	}()
	err = call(ctx)
	settled = true
	done(outcome(ctx, err))
	b.flush()
	return err
}

// begin asks gobreaker for one call and returns its done, or the
// refusal: ctx's error marked ClassUnavailable if ctx has ended, the open
// or half-open-full refusal otherwise.
func (b *CircuitBreaker) begin(ctx context.Context) (func(error), error) {
	if err := ctx.Err(); err != nil {
		return nil, b.ended(err)
	}
	done, err := b.cb.Allow()
	b.flush()
	if err != nil {
		return nil, b.refusal(err)
	}
	return done, nil
}

// ended is the refusal of a call whose context err has ended: err, marked
// ClassUnavailable.
func (b *CircuitBreaker) ended(err error) error {
	return classify.Unavailable(fmt.Errorf("health: breaker %q: %w", b.name, err))
}

// refusal turns gobreaker's refusal err into the package's: half-open with
// every probe taken, or open.
func (b *CircuitBreaker) refusal(err error) error {
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		return b.halfOpenFull()
	}
	return b.open()
}
