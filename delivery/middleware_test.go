package delivery_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/retry"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func TestChainOrder(t *testing.T) {
	var trace []string
	mw := func(name string) delivery.Middleware {
		return func(next delivery.Deliverer) delivery.Deliverer {
			return delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
				trace = append(trace, name+">")
				err := next.Deliver(ctx, m)
				trace = append(trace, "<"+name)
				return err
			})
		}
	}
	base := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		trace = append(trace, "deliver")
		return nil
	})
	d := delivery.Chain(base, mw("a"), nil, mw("b"))
	require.NoError(t, d.Deliver(context.Background(), &delivery.Message{}))
	assert.Equal(t, []string{"a>", "b>", "deliver", "<b", "<a"}, trace)
	assert.NotNil(t, delivery.Chain(base))
}

func blockUntilDone(ctx context.Context, _ *delivery.Message) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestWithTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := delivery.Chain(delivery.DelivererFunc(blockUntilDone), delivery.WithTimeout(5*time.Second))
		start := time.Now()
		err := d.Deliver(context.Background(), &delivery.Message{})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		assert.Equal(t, 5*time.Second, time.Since(start))

		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Second); cancel() }()
		err = d.Deliver(ctx, &delivery.Message{})
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "the caller giving up is not the partner's fault")
	})
}

func TestWithRateLimitPaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var times []time.Duration
		start := time.Now()
		ok := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			times = append(times, time.Since(start))
			return nil
		})
		d := delivery.Chain(ok, delivery.WithRateLimit(rate.NewLimiter(rate.Every(time.Second), 1)))
		for range 4 {
			require.NoError(t, d.Deliver(context.Background(), &delivery.Message{}))
		}
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, times)
	})
}

func TestWithRateLimitDeadlineAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		ok := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { calls++; return nil })
		l := rate.NewLimiter(rate.Every(10*time.Second), 1)
		d := delivery.Chain(ok, delivery.WithRateLimit(l))
		require.NoError(t, d.Deliver(context.Background(), &delivery.Message{}))

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := d.Deliver(ctx, &delivery.Message{})
		assert.Equal(t, time.Duration(0), time.Since(start), "returns at once when the wait cannot fit the deadline")
		assert.ErrorIs(t, err, delivery.ErrRateLimited)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		ra, ok2 := classify.RetryAfter(err)
		assert.True(t, ok2)
		assert.Equal(t, 10*time.Second, ra)

		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { time.Sleep(2 * time.Second); cancel2() }()
		err = d.Deliver(ctx2, &delivery.Message{})
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, calls, "refused waits never reach the partner")

		zero := delivery.Chain(ok, delivery.WithRateLimit(rate.NewLimiter(1, 0)))
		err = zero.Deliver(context.Background(), &delivery.Message{})
		assert.Equal(t, classify.ClassPermanent, classify.Of(err))
		assert.False(t, errors.Is(err, delivery.ErrRateLimited))
	})
}

func TestWithRetryInvalidPolicyIsPermanent(t *testing.T) {
	called := false
	next := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { called = true; return nil })
	err := delivery.Chain(next, delivery.WithRetry(retry.Policy{MaxAttempts: -1})).Deliver(context.Background(), &delivery.Message{})
	assert.Equal(t, classify.ClassPermanent, classify.Of(err))
	assert.ErrorContains(t, err, "MaxAttempts")
	assert.False(t, called)
}
