package delivery_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// BenchmarkDispatcher drains a backlog of 100,000 records through a no-op
// deliverer; one op is one whole backlog. Reports records/s and allocations
// per record.
func BenchmarkDispatcher(b *testing.B) {
	const backlog = 100_000
	payload := []byte(`{"candidate":42}`)
	for _, conc := range []int{1, 16} {
		for _, keyed := range []bool{false, true} {
			b.Run(fmt.Sprintf("conc=%d/keys=%v", conc, keyed), func(b *testing.B) {
				noop := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
				msgs := make([]delivery.Message, backlog)
				var allocs uint64
				for i := 0; i < b.N; i++ {
					b.StopTimer() // only the drains count
					store := memstore.New(memstore.Config{})
					for i := range msgs {
						msgs[i] = delivery.Message{ID: fmt.Sprint(i), Payload: payload}
						if keyed {
							msgs[i].Key = fmt.Sprint("k", i%100)
						}
					}
					if _, err := store.Enqueue(context.Background(), msgs...); err != nil {
						b.Fatal(err)
					}
					d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: noop, Concurrency: conc, MaxPerRun: backlog})
					if err != nil {
						b.Fatal(err)
					}
					before := memAllocs()
					b.StartTimer()
					rep, err := d.RunOnce(context.Background())
					b.StopTimer()
					allocs += memAllocs() - before
					if err != nil || rep.Delivered != backlog {
						b.Fatalf("delivered %d, err %v", rep.Delivered, err)
					}
				}
				n := float64(b.N) * backlog
				b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(allocs)/n, "allocs/record")
			})
		}
	}
}

// BenchmarkDispatcherTrickle is one record enqueued and delivered per run,
// as records arriving one at a time are (Run wakes on each): one op is one
// Enqueue and one RunOnce. A run's cost that does not depend on how many
// records it finds (its goroutines, its channels) shows here, and grows
// with Concurrency.
func BenchmarkDispatcherTrickle(b *testing.B) {
	payload := []byte(`{"candidate":42}`)
	for _, conc := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			noop := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
			store := memstore.New(memstore.Config{})
			d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: noop, Concurrency: conc})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := store.Enqueue(context.Background(), delivery.Message{Payload: payload}); err != nil {
					b.Fatal(err)
				}
				rep, err := d.RunOnce(context.Background())
				if err != nil || rep.Delivered != 1 {
					b.Fatalf("delivered %d, err %v", rep.Delivered, err)
				}
			}
		})
	}
}
