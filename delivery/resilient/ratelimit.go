package resilient

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
)

// waitTurn waits for a token from l, honouring ctx. A wait the context's
// deadline would cut short is refused at once without taking a token, as
// is a wait cut short by ctx; both are ClassUnavailable (the destination
// was not tried). A limiter that can never grant a token (burst 0) refuses
// with a ClassPermanent error.
func waitTurn(ctx context.Context, l *rate.Limiter) error {
	err := l.Wait(ctx)
	switch {
	case err == nil:
		return nil
	case l.Burst() == 0 && l.Limit() != rate.Inf:
		return classify.Permanent(fmt.Errorf("resilient: rate limiter (limit %v, burst 0) can never grant a token", l.Limit()))
	}
	return classify.Unavailable(fmt.Errorf("resilient: rate limit: %w", err))
}
