package postgres_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
)

// Store-level and dispatcher-level benchmarks against the real server.
// BenchmarkClaimBacklog's 1,000,000-row case is opt-in:
// OUTBOUND_BENCH_LARGE=1 go test -bench ClaimBacklog -run XXX ./delivery/postgres/

func BenchmarkEnqueue(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			store, _ := newStore(b, nil)
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

// BenchmarkEnqueueBulk enqueues batches of new unkeyed messages with
// generated IDs, the batches Enqueue writes with COPY from
// CopyMinForTest up, through each path in the same run: path=insert
// forces the INSERT over unnested arrays, path=copy the COPY.
func BenchmarkEnqueueBulk(b *testing.B) {
	for _, size := range []int{postgres.CopyMinForTest, 1000} {
		for _, path := range []string{"insert", "copy"} {
			b.Run(fmt.Sprintf("batch=%d/path=%s", size, path), func(b *testing.B) {
				store, _ := newStore(b, nil)
				if path == "insert" {
					store.SetCopyMinForTest(math.MaxInt)
				}
				ctx := context.Background()
				msgs := make([]delivery.Message, size)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					for j := range msgs {
						msgs[j] = delivery.Message{Destination: "crm", Payload: fmt.Appendf(nil, `{"candidate":%d}`, i*size+j)}
					}
					if _, err := store.Enqueue(ctx, msgs...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "records/s")
				if copied := store.CopiedBatchesForTest(); (path == "copy") != (copied > 0) {
					b.Fatalf("path %s: %d batches copied", path, copied)
				}
			})
		}
	}
}

// BenchmarkClaimComplete claims and completes records straight on the
// store with 1 and 16 workers, each claiming up to 10 at a time.
func BenchmarkClaimComplete(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			store, _ := newStore(b, nil)
			ctx := context.Background()
			killtest.Enqueue(b, store, "r", b.N)
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

// BenchmarkDispatch drains b.N records through a delivery.Dispatcher with
// a no-op deliverer at concurrency 1 and 16.
func BenchmarkDispatch(b *testing.B) {
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			store, _ := newStore(b, nil)
			ctx := context.Background()
			killtest.Enqueue(b, store, "r", b.N)
			d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
				Store: store, Concurrency: conc, MaxPerRun: 1000,
				Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
			})
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			delivered := 0
			for delivered < b.N {
				rep, err := d.RunOnce(ctx)
				if err != nil {
					b.Fatal(err)
				}
				delivered += rep.Delivered
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkClaimBacklog measures one Claim of 10 records (then releases
// them, untimed, so the backlog stays the same) with 1,000 and 1,000,000
// pending records, half of them blocked behind three busy keys, plus half
// as many delivered records retained. The 1,000,000 case is opt-in
// (OUTBOUND_BENCH_LARGE=1): seeding it takes about a minute.
func BenchmarkClaimBacklog(b *testing.B) {
	sizes := []int{1_000}
	if large() {
		sizes = append(sizes, 1_000_000)
	}
	for _, pending := range sizes {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			var tick atomic.Int64
			now := func() time.Time { return base.Add(time.Duration(tick.Load()) * time.Microsecond) }
			store, pool := newStore(b, now)
			seedBacklog(b, pool, store, base, pending, pending/2)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				recs, err := store.Claim(ctx, 10, time.Minute)
				if err != nil || len(recs) != 10 {
					b.Fatalf("claim: %d records, %v", len(recs), err)
				}
				b.StopTimer()
				tick.Add(1)
				for _, r := range recs {
					if err := store.Release(ctx, r.Lease()); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStatsBacklog measures Stats with 1,000 pending records and as
// many delivered, and (opt-in, OUTBOUND_BENCH_LARGE=1) with 1,000,000 of
// each: the pending count is exact (an index-only scan of the pending
// rows), the delivered count an estimate, so the cost follows the live
// backlog, not the history.
func BenchmarkStatsBacklog(b *testing.B) {
	sizes := []int{1_000}
	if large() {
		sizes = append(sizes, 1_000_000)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("pending=%d,delivered=%d", n, n), func(b *testing.B) {
			base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			store, pool := newStore(b, func() time.Time { return base })
			seedBacklog(b, pool, store, base, n, n)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				st, err := store.Stats(ctx)
				if err != nil || st.Count(delivery.StatePending) != int64(n) {
					b.Fatalf("stats: %+v, %v", st, err)
				}
			}
		})
	}
}
