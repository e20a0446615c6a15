package sqlitedriver_test

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
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// stores are the Stores BenchmarkDrivers compares, each on a new file:
// sqlite.Open as delivery/sqlite ships it (modernc, a writing handle of one
// connection beside a reading one), and sqlite.OpenDB on a handle of each
// driver opened with the same DSN (dsn), so that the same store code runs
// on either driver with the same settings.
var stores = []struct {
	name string
	open func(b *testing.B, path string) *sqlite.Store
}{
	{"Open-modernc", func(b *testing.B, path string) *sqlite.Store { return open(b, path, nil) }},
	{"OpenDB-modernc", func(b *testing.B, path string) *sqlite.Store {
		_, s := openDB(b, modernc, path, sqlite.Config{})
		return s
	}},
	{"OpenDB-ncruces", func(b *testing.B, path string) *sqlite.Store {
		_, s := openDB(b, ncruces, path, sqlite.Config{})
		return s
	}},
}

// BenchmarkDrivers is delivery/sqlite's store benchmark (the same work as
// its BenchmarkEnqueue and BenchmarkClaimComplete) on each of stores, the
// drivers back to back within each kind of work:
//
//	go test -run XXX -bench . -count 3
func BenchmarkDrivers(b *testing.B) {
	for _, size := range []int{1, 100} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("enqueue/batch=%d/%s", size, st.name), func(b *testing.B) {
				benchEnqueue(b, st.open(b, filepath.Join(b.TempDir(), "outbox.db")), size)
			})
		}
	}
	for _, workers := range []int{1, 16} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("claim+complete/workers=%d/%s", workers, st.name), func(b *testing.B) {
				benchClaimComplete(b, st.open(b, filepath.Join(b.TempDir(), "outbox.db")), workers)
			})
		}
	}
}

// benchEnqueue enqueues batches of size records, every fourth with one of
// four ordering keys.
func benchEnqueue(b *testing.B, store *sqlite.Store, size int) {
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
}

// benchClaimComplete claims and completes b.N unkeyed records with workers
// goroutines, each claiming up to 10 at a time.
func benchClaimComplete(b *testing.B, store *sqlite.Store, workers int) {
	ctx := context.Background()
	for start := 0; start < b.N; start += 500 {
		msgs := make([]delivery.Message, 0, 500)
		for i := start; i < min(b.N, start+500); i++ {
			msgs = append(msgs, delivery.Message{ID: fmt.Sprint("r-", i), Payload: []byte(`{"candidate":42}`)})
		}
		if _, err := store.Enqueue(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
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
}
