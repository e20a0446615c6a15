package delivery

import (
	"context"
	"fmt"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/internal/nilcheck"
)

// WithGate asks g before every attempt and returns its refusal (an
// Unavailable error with a Retry-After hint) instead of sending while the
// destination is down. The Dispatcher's own Gate setting does the same for
// whole runs; use this middleware when the Deliverer is used directly or
// when different messages go to different destinations with their own
// gates. A nil g, or a nil pointer or func in g, adds no gate.
func WithGate(g Gate) Middleware {
	return func(next Deliverer) Deliverer {
		if nilcheck.IsNil(g) { // a nil *health.Monitor too: it would panic in every attempt
			return next
		}
		return DelivererFunc(func(ctx context.Context, m *Message) error {
			if err := g.Allow(ctx); err != nil {
				return err
			}
			return next.Deliver(ctx, m)
		})
	}
}

// WithBreaker guards every attempt with circuit breaker b: while it is open,
// attempts are refused with an Unavailable error (no attempt counted, the
// record waits) instead of adding load to a failing partner. Every outcome
// is reported to b, which counts only Ephemeral failures. A nil b, or a nil
// pointer in b, adds no breaker.
func WithBreaker(b health.Breaker) Middleware {
	return func(next Deliverer) Deliverer {
		if nilcheck.IsNil(b) { // a nil *health.CircuitBreaker too
			return next
		}
		return DelivererFunc(func(ctx context.Context, m *Message) error {
			return guarded(ctx, b, next, m)
		})
	}
}

// WithBreakers guards each attempt with the breaker for its destination,
// key(m), from bs (one breaker per partner host, for example). A nil key
// function uses Message.Destination.
func WithBreakers(bs *health.Breakers, key func(*Message) string) Middleware {
	if key == nil {
		key = func(m *Message) string { return m.Destination }
	}
	return func(next Deliverer) Deliverer {
		if bs == nil {
			return next
		}
		return DelivererFunc(func(ctx context.Context, m *Message) error {
			return guarded(ctx, bs.For(key(m)), next, m)
		})
	}
}

// guarded runs one call through breaker b. A panic in next still settles
// the breaker's half-open slot (as an outcome it does not count) before it
// propagates, so a panicking call cannot leave the breaker stuck.
func guarded(ctx context.Context, b health.Breaker, next Deliverer, m *Message) error {
	if cb, ok := b.(*health.CircuitBreaker); ok {
		// One step, and the func stays on the stack: a call through the
		// interface would move it to the heap, as Allow's done does.
		return cb.Do(ctx, func(ctx context.Context) error { return next.Deliver(ctx, m) })
	}
	done, err := b.Allow(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			done(classify.Permanent(fmt.Errorf("delivery: deliverer panicked: %v", p)))
			panic(p)
		}
	}()
	err = next.Deliver(ctx, m)
	done(err)
	return err
}
