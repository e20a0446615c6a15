package delivery_test

import (
	"context"
	"testing"

	"github.com/outbound-go/outbound/delivery"
)

// BenchmarkFailures is the cost of counting one outcome, and of counting
// from every core at once.
func BenchmarkFailures(b *testing.B) {
	f, err := delivery.NewFailures(delivery.FailuresConfig{})
	if err != nil {
		b.Fatal(err)
	}
	e := benchEvent()
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
