package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Store-level benchmarks on a file in a temporary directory, named like the
// PostgreSQL store's so the two can be compared:
// go test -bench . -run XXX ./delivery/sqlite/ ./delivery/postgres/

func BenchmarkEnqueue(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			store := open(b, filepath.Join(b.TempDir(), "outbox.db"), nil)
			ctx := context.Background()
			msgs := make([]delivery.Message, size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range msgs {
					key := ""
					if j%4 == 0 {
						key = fmt.Sprintf("key-%d", j%16)
					}
					msgs[j] = delivery.Message{ID: fmt.Sprintf("m-%d-%d", i, j), Key: key, Payload: []byte(`{"candidate":42}`)}
				}
				if _, err := store.Enqueue(ctx, msgs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkClaimComplete claims and completes records straight on the
// store with 1 and 16 workers, each claiming up to 10 at a time.
func BenchmarkClaimComplete(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			store := open(b, filepath.Join(b.TempDir(), "outbox.db"), nil)
			ctx := context.Background()
			enqueueMany(b, store, "r", b.N)
			var done atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for done.Load() < int64(b.N) {
						recs, err := store.Claim(ctx, 10, time.Minute)
						if err != nil {
							b.Error(err)
							return
						}
						for _, r := range recs {
							if err := store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false); err != nil {
								b.Error(err)
								return
							}
							done.Add(1)
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// enqueueMany stores n unkeyed records with ids prefix-0..prefix-(n-1), in
// batches of 500, and returns the ids.
func enqueueMany(tb testing.TB, store delivery.Store, prefix string, n int) []string {
	tb.Helper()
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 500 {
		msgs := make([]delivery.Message, 0, 500)
		for i := start; i < min(n, start+500); i++ {
			id := fmt.Sprintf("%s-%d", prefix, i)
			ids = append(ids, id)
			msgs = append(msgs, delivery.Message{ID: id, Payload: []byte(`{"candidate":42}`)})
		}
		if _, err := store.Enqueue(context.Background(), msgs...); err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}
