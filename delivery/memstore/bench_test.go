package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

var payload = []byte(`{"candidate":42}`)

func BenchmarkEnqueue(b *testing.B) {
	s := memstore.New(memstore.Config{})
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := s.Enqueue(ctx, delivery.Message{ID: fmt.Sprint(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnqueueBatch100(b *testing.B) {
	s := memstore.New(memstore.Config{})
	ctx := context.Background()
	batch := make([]delivery.Message, 100)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range batch {
			i++
			batch[j] = delivery.Message{ID: fmt.Sprint(i), Payload: payload}
		}
		if _, err := s.Enqueue(ctx, batch...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkClaimComplete claims and completes one record per op from a
// backlog of 100,000.
func BenchmarkClaimComplete(b *testing.B) {
	s := memstore.New(memstore.Config{})
	ctx := context.Background()
	fill := func(n int) {
		msgs := make([]delivery.Message, n)
		for i := range msgs {
			msgs[i] = delivery.Message{Payload: payload}
		}
		if _, err := s.Enqueue(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	fill(100_000)
	ok := delivery.Attempt{StartedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		recs, err := s.Claim(ctx, 1, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			b.StopTimer()
			fill(100_000)
			b.StartTimer()
			continue
		}
		if err := s.Complete(ctx, recs[0].Lease(), ok, false); err != nil {
			b.Fatal(err)
		}
	}
}
