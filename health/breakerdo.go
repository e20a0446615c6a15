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
// its done in one step for a call made in the caller's frame, and spares
// Allow's two allocations (the done func and its once-guard): on the
// success path it allocates only what gobreaker does. If call panics,
// the breaker's slot is released as an outcome it does not count, and the
// panic propagates.
func (b *CircuitBreaker) Do(ctx context.Context, call func(context.Context) error) error {
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
		return nil, classify.Unavailable(fmt.Errorf("health: breaker %q: %w", b.name, err))
	}
	done, err := b.cb.Allow()
	b.flush()
	if err != nil {
		if errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, b.halfOpenFull()
		}
		return nil, b.open()
	}
	return done, nil
}
