package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// BenchmarkObserveAttempt is the cost of counting one attempt: with
// exemplars rate-limited (the default), without exemplars, and with an
// exemplar on every attempt (a new attempt time each call defeats the
// interval), serially and from every core.
func BenchmarkObserveAttempt(b *testing.B) {
	for _, bc := range []struct {
		name    string
		cfg     metrics.Config
		advance bool
	}{
		{"default", metrics.Config{}, false},
		{"no-exemplars", metrics.Config{DisableExemplars: true}, false},
		{"exemplar-every-attempt", metrics.Config{ExemplarInterval: time.Nanosecond}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m, err := metrics.New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			e := delivery.AttemptEvent{
				Record:    delivery.Record{Message: delivery.Message{ID: "0b6f1c2e9a7d4e5f8a1b2c3d4e5f6a7b", Destination: "ats"}},
				Attempted: true,
				Attempt:   delivery.Attempt{StartedAt: time.Now(), Duration: 42 * time.Millisecond, Class: classify.ClassOK},
				Cause:     "ok", Action: delivery.ActionDelivered,
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if bc.advance {
					e.Attempt.StartedAt = e.Attempt.StartedAt.Add(time.Microsecond)
				}
				m.ObserveAttempt(ctx, e)
			}
		})
	}
	b.Run("default-parallel", func(b *testing.B) {
		m := newBenchMetrics(b, false)
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			e := delivery.AttemptEvent{
				Record:    delivery.Record{Message: delivery.Message{ID: "r", Destination: "ats"}},
				Attempted: true,
				Attempt:   delivery.Attempt{StartedAt: time.Now(), Duration: 42 * time.Millisecond, Class: classify.ClassOK},
				Cause:     "ok", Action: delivery.ActionDelivered,
			}
			for pb.Next() {
				m.ObserveAttempt(ctx, e)
			}
		})
	})
}
