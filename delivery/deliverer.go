package delivery

import "context"

// Deliverer sends one message to its destination.
//
// Deliver returns nil when the destination accepted the message, and
// otherwise an error whose class ([classify.Of]) decides what happens next:
// Duplicate counts as delivered, Ephemeral and Unavailable are retried,
// Permanent is dead-lettered and Discard is dropped with its reason.
// Implementations must be safe for concurrent use and must honour ctx.
type Deliverer interface {
	Deliver(ctx context.Context, m *Message) error
}

// DelivererFunc adapts a function to the Deliverer interface.
type DelivererFunc func(ctx context.Context, m *Message) error

// Deliver calls f(ctx, m).
func (f DelivererFunc) Deliver(ctx context.Context, m *Message) error { return f(ctx, m) }

// Middleware wraps a Deliverer with extra behaviour: a timeout, a rate
// limit, a retry loop, a health gate.
type Middleware func(next Deliverer) Deliverer

// Chain wraps d in the middlewares so that the first one listed is the
// outermost: Chain(d, a, b).Deliver runs a, then b, then d. Nil middlewares
// are skipped. With no middlewares it returns d.
func Chain(d Deliverer, mws ...Middleware) Deliverer {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			d = mws[i](d)
		}
	}
	return d
}
