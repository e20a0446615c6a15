package delivery

import (
	"context"
	"fmt"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/retry"
)

// WithRetry retries Ephemeral and Unavailable outcomes in process, under
// policy p (see retry.Do): for short waits inside one attempt of a request
// path, not for durable retries, which the Dispatcher schedules in the
// store with the same kind of Policy. Use a policy with short delays and a
// MaxElapsed below the caller's timeout. The returned error keeps the last
// outcome's class and says how many attempts were made.
//
// p is validated once: if it is invalid, every delivery fails at once with
// a Permanent error naming the bad setting, without calling next.
func WithRetry(p retry.Policy) Middleware {
	invalid := p.Validate()
	return func(next Deliverer) Deliverer {
		if invalid != nil {
			err := classify.Permanent(fmt.Errorf("delivery: WithRetry: %w", invalid))
			return DelivererFunc(func(context.Context, *Message) error { return err })
		}
		return DelivererFunc(func(ctx context.Context, m *Message) error {
			return retry.Do(ctx, p, func(ctx context.Context) error {
				return next.Deliver(ctx, m)
			})
		})
	}
}
