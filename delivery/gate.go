package delivery

import "context"

// Gate says whether the destination may be tried now. Allow returns nil to
// go ahead, or an error (class Unavailable, ideally with a Retry-After hint
// saying when to look again) to hold off. *health.Gate and *health.Monitor
// satisfy it.
type Gate interface {
	Allow(ctx context.Context) error
}

// GateFunc adapts a function to the Gate interface.
type GateFunc func(ctx context.Context) error

// Allow calls f(ctx).
func (f GateFunc) Allow(ctx context.Context) error { return f(ctx) }
