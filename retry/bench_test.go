package retry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/retry"
)

// BenchmarkDoSuccess measures Do when the first attempt succeeds, the path
// every delivered message takes; it should not allocate.
func BenchmarkDoSuccess(b *testing.B) {
	ctx := context.Background()
	p := retry.DefaultPolicy()
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := retry.Do(ctx, p, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDoValueSuccess(b *testing.B) {
	ctx := context.Background()
	p := retry.DefaultPolicy()
	fn := func(context.Context) (int, error) { return 42, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := retry.DoValue(ctx, p, fn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDoRetryOnce measures one failed attempt, a zero wait and a
// success: the cost of the retry machinery itself.
func BenchmarkDoRetryOnce(b *testing.B) {
	ctx := context.Background()
	p := retry.Policy{Backoff: retry.Constant(0)}
	failure := &classify.Error{Class: classify.ClassEphemeral, Status: 503}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := retry.Do(ctx, p, func(context.Context) error {
			n++
			if n == 1 {
				return failure
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNext measures the decision the durable dispatcher makes for every
// failed attempt.
func BenchmarkNext(b *testing.B) {
	p := retry.DefaultPolicy()
	errs := []struct {
		name string
		err  error
	}{
		{"explicit", &classify.Error{Class: classify.ClassEphemeral, Status: 503}},
		{"wrapped_retry_after", fmt.Errorf("deliver: %w",
			&classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: 30 * time.Second})},
		{"permanent", classify.Permanent(errors.New("bad request"))},
		{"inferred", errors.New("something nobody recognises")},
	}
	for _, tt := range errs {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Next(3, 4*time.Minute, tt.err)
			}
		})
	}
}

func BenchmarkExponentialDelay(b *testing.B) {
	for _, j := range []retry.Jitter{retry.NoJitter, retry.FullJitter, retry.EqualJitter, retry.DecorrelatedJitter} {
		e := retry.DefaultBackoff()
		e.Jitter = j
		b.Run(j.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.Delay(5)
			}
		})
	}
}
