package failures_test

import (
	"context"
	"testing"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failures"
)

// BenchmarkFailures is the cost of counting one outcome, and of counting
// from every core at once.
func BenchmarkFailures(b *testing.B) {
	f, err := failures.New(failures.Config{})
	if err != nil {
		b.Fatal(err)
	}
	e := delivery.AttemptEvent{
		Record:    delivery.Record{Message: delivery.Message{ID: "r1", Destination: "ats"}},
		Attempted: true,
		Attempt:   delivery.Attempt{StartedAt: time.Now(), Duration: 42 * time.Millisecond, Status: 503, Class: classify.ClassEphemeral},
		Err:       &classify.Error{Class: classify.ClassEphemeral, Status: 503}, Cause: "http_503", Action: delivery.ActionRetry,
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.ObserveAttempt(ctx, e)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.ObserveAttempt(ctx, e)
			}
		})
	})
}
