package delivery

import (
	"context"
	"time"
)

// WithTimeout bounds each attempt to d. An attempt that runs out of time
// fails with context.DeadlineExceeded, which classifies as Ephemeral. A
// non-positive d returns next unchanged.
func WithTimeout(d time.Duration) Middleware {
	return func(next Deliverer) Deliverer {
		if d <= 0 {
			return next
		}
		return DelivererFunc(func(ctx context.Context, m *Message) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next.Deliver(ctx, m)
		})
	}
}
