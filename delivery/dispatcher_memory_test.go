package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// generatedBacklog is a store that claims to hold total pending records
// without keeping them: Claim makes each record when it hands it out, and
// the settling methods only count. What memory a drain uses is then the
// dispatcher's own, not the store's. Methods the dispatcher does not call
// on this path are left to the nil embedded Store and would panic.
type generatedBacklog struct {
	delivery.Store
	payload []byte
	mu      sync.Mutex
	next    int
	total   int
	settled atomic.Int64
}

func (g *generatedBacklog) Claim(_ context.Context, limit int, lease time.Duration, _ ...string) ([]delivery.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := min(limit, g.total-g.next)
	now := time.Now()
	recs := make([]delivery.Record, n)
	for i := range recs {
		recs[i] = delivery.Record{
			Message: delivery.Message{ID: strconv.Itoa(g.next), Payload: g.payload, CreatedAt: now},
			Seq:     int64(g.next + 1), State: delivery.StateInFlight, NextAttemptAt: now,
			LeaseToken: "lease", LeaseExpiresAt: now.Add(lease), UpdatedAt: now,
		}
		g.next++
	}
	return recs, nil
}

func (g *generatedBacklog) Complete(context.Context, delivery.Lease, delivery.Attempt, bool) error {
	g.settled.Add(1)
	return nil
}

// labelledGoroutines counts the goroutines that carry the pprof label
// key=value: those started, directly or not, under pprof.Do with it. A
// count of the process's goroutines would also take in those of earlier
// tests (a timer's func firing), which come and go.
func labelledGoroutines(key, value string) int {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return -1
	}
	want := strconv.Quote(key) + ":" + strconv.Quote(value)
	n, group := 0, 0
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if count, _, ok := strings.Cut(line, " @ "); ok {
			group, _ = strconv.Atoi(count)
			continue
		}
		if strings.HasPrefix(line, "# labels: ") && strings.Contains(line, want) {
			n += group
			group = 0
		}
	}
	return n
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A backlog of a million records (a tenth under the race detector) is
// worked by Concurrency goroutines, not one per record, and the
// dispatcher's memory does not grow with it: one RunOnce drains all of it
// (MaxPerRun the whole backlog) while the deliverer samples the goroutine
// count and the live heap. Keeping as little as each record's id would
// grow the heap by 24 MB; the samples stay within a few MB, which is
// garbage made by the workers while a sample's GC runs.
func TestDispatcherMemoryBoundedWithAMillionRecordBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("drains a million records")
	}
	const backlog, conc = millionBacklog, 16
	const sampleEvery = backlog / 10
	const heapBound = 16 << 20
	store := &generatedBacklog{total: backlog, payload: []byte(`{"candidate":42}`)}

	var calls atomic.Int64
	var peakGoroutines atomic.Int64 // the dispatcher's, at each sample

	var samplesMu sync.Mutex
	var heapSamples []uint64
	send := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		n := calls.Add(1)
		if n%sampleEvery == 0 {
			if g := int64(labelledGoroutines("outbound_test", "memory")); g > peakGoroutines.Load() {
				peakGoroutines.Store(g) // the pool is all there by then: it starts with the first records
			}
			h := liveHeap()
			samplesMu.Lock()
			heapSamples = append(heapSamples, h)
			samplesMu.Unlock()
		}
		return nil
	})
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: send, Concurrency: conc, MaxPerRun: backlog})

	baseHeap := liveHeap()
	var rep delivery.Report
	var err error
	pprof.Do(context.Background(), pprof.Labels("outbound_test", "memory"), func(ctx context.Context) {
		rep, err = d.RunOnce(ctx) // every goroutine it starts carries the label
	})
	require.NoError(t, err)
	assert.Equal(t, backlog, rep.Delivered)
	assert.EqualValues(t, backlog, store.settled.Load(), "every outcome written")

	require.Len(t, heapSamples, backlog/sampleEvery)
	var peakHeap uint64
	for _, h := range heapSamples {
		peakHeap = max(peakHeap, h)
	}
	growth := int64(peakHeap) - int64(baseHeap)
	assert.Less(t, growth, int64(heapBound), "live heap grew by %d bytes while draining %d records", growth, backlog)
	assert.Positive(t, peakGoroutines.Load(), "the samples counted the dispatcher's goroutines")
	assert.LessOrEqual(t, int(peakGoroutines.Load()), 3*conc+2,
		"a fixed pool of %d workers and %d outcome writers (plus RunOnce's own and the shutdown watcher), not a goroutine per record", conc, 2*conc)
	t.Logf("%d records: live heap %d KiB before, at most %d KiB during (samples %v); the dispatcher's goroutines at most %d",
		backlog, baseHeap>>10, peakHeap>>10, heapSamples, peakGoroutines.Load())
}
