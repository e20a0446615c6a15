package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
)

// ErrRateLimited is the cause of an Unavailable error from WithRateLimit
// when the wait for a token would outlast the context's deadline.
var ErrRateLimited = errors.New("delivery: rate limit wait exceeds deadline")

// WithRateLimit paces attempts through l, shared by every goroutine using
// the returned deliverer, so a partner sees at most l's rate however many
// workers send.
//
// Waiting honours ctx. When ctx has a deadline that the wait would exceed,
// it returns at once with an Unavailable error wrapping ErrRateLimited and a
// Retry-After hint of the wait, without consuming a token; when ctx ends
// during the wait it returns an error of class Unavailable. Neither counts
// as an attempt. A limiter whose burst is zero refuses everything with a
// Permanent error, since no wait could ever succeed.
func WithRateLimit(l *rate.Limiter) Middleware {
	return func(next Deliverer) Deliverer {
		if l == nil {
			return next
		}
		return DelivererFunc(func(ctx context.Context, m *Message) error {
			if err := waitToken(ctx, l); err != nil {
				return err
			}
			return next.Deliver(ctx, m)
		})
	}
}

func waitToken(ctx context.Context, l *rate.Limiter) error {
	now := time.Now()
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return classify.Permanent(fmt.Errorf("delivery: rate limiter (limit %v, burst %d) can never grant a token", l.Limit(), l.Burst()))
	}
	wait := r.DelayFrom(now)
	if wait == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && now.Add(wait).After(deadline) {
		r.CancelAt(now)
		return &classify.Error{Class: classify.ClassUnavailable, RetryAfter: wait, Err: ErrRateLimited}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return classify.Unavailable(fmt.Errorf("delivery: rate limit wait: %w", ctx.Err()))
	}
}
