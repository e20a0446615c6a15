package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// slowWrites is a Store whose Complete takes a while (took) and counts
// the writes in progress, the writes done, and when each record's write
// started.
type slowWrites struct {
	delivery.Store
	took                   time.Duration
	writing, peak, written atomic.Int32

	mu      sync.Mutex
	started map[string]time.Time
}

func (s *slowWrites) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, duplicate bool) error {
	s.mu.Lock()
	if s.started == nil {
		s.started = map[string]time.Time{}
	}
	s.started[l.ID] = time.Now()
	s.mu.Unlock()
	raise(&s.peak, s.writing.Add(1))
	defer s.writing.Add(-1)
	time.Sleep(s.took)
	defer s.written.Add(1)
	return s.Store.Complete(ctx, l, a, duplicate)
}

// raise sets p to n if n is larger.
func raise(p *atomic.Int32, n int32) {
	for old := p.Load(); n > old && !p.CompareAndSwap(old, n); old = p.Load() {
	}
}

// A worker whose attempt is over hands its outcome to a writer and starts
// the next attempt, so a slow store write does not idle the partner, and
// the store gets more outcomes to write together. Attempts in flight stay
// within Concurrency, and writes within twice it. At Concurrency 1 each
// outcome is written before the next attempt, in claim order.
func TestNextAttemptStartsWhileTheOutcomeIsWritten(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("Concurrency %d", conc), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 40
				store := &slowWrites{Store: memstore.New(memstore.Config{}), took: time.Second}
				for i := range n {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
				}
				var attempting, peak atomic.Int32
				sc := newScript()
				var obs recordingObserver
				d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: conc, MaxPerRun: n, Observer: &obs,
					Deliverer: delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
						raise(&peak, attempting.Add(1))
						defer attempting.Add(-1)
						time.Sleep(100 * time.Millisecond)
						return sc.Deliver(ctx, m)
					})})
				start := time.Now()
				rep, err := d.RunOnce(context.Background())
				require.NoError(t, err)
				require.Equal(t, n, rep.Delivered)
				took := time.Since(start)

				// Attempt and write each take their time one after the other
				// when a worker waits for its write: n/conc × 1.1s.
				serial := time.Duration(n/conc) * 1100 * time.Millisecond
				assert.EqualValues(t, conc, peak.Load(), "at most Concurrency attempts at once")
				if conc == 1 {
					assert.Equal(t, serial, took, "each outcome written before the next attempt")
					assert.EqualValues(t, 1, store.peak.Load(), "one write at a time")
					events := obs.events()
					require.Len(t, events, n)
					for i := range n {
						want := fmt.Sprintf("r-%02d", i)
						assert.Equal(t, want, sc.seen[i], "Concurrency 1 attempts in claim order")
						assert.Equal(t, want, events[i].Record.ID, "and observes them in that order")
					}
				} else {
					assert.Less(t, took, serial*2/3, "writes overlap the next attempts")
					assert.Greater(t, store.peak.Load(), int32(conc), "more outcome writes than workers at once")
					assert.LessOrEqual(t, store.peak.Load(), int32(2*conc), "at most twice Concurrency outcome writes")
				}
			})
		})
	}
}

// The lease a record is checked against before its attempt covers the
// attempt and one StoreTimeout for its outcome (see Lease), not a wait
// behind other records' writes: however slow the store's writes, each
// outcome's write starts the moment its attempt is over. (Outcomes that
// waited for a writer were written past their lease, after another
// process could have taken the record over and sent it again.)
func TestAnOutcomeIsWrittenAsSoonAsItsAttemptEnds(t *testing.T) {
	for _, conc := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("Concurrency %d", conc), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 24
				store := &slowWrites{Store: memstore.New(memstore.Config{}), took: 9900 * time.Millisecond}
				for i := range n {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
				}
				var mu sync.Mutex
				ended := map[string]time.Time{}
				d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: conc, MaxPerRun: n,
					AttemptTimeout: time.Second, StoreTimeout: 10 * time.Second, Lease: 12500 * time.Millisecond,
					Deliverer: delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
						time.Sleep(10 * time.Millisecond)
						mu.Lock()
						defer mu.Unlock()
						ended[m.ID] = time.Now()
						return nil
					})})
				_, err := d.RunOnce(context.Background())
				require.NoError(t, err)

				mu.Lock()
				defer mu.Unlock()
				store.mu.Lock()
				defer store.mu.Unlock()
				require.GreaterOrEqual(t, len(ended), conc, "some records were attempted")
				for id, end := range ended {
					start, ok := store.started[id]
					if assert.True(t, ok, "%s: attempted, its outcome never written", id) {
						assert.Equal(t, time.Duration(0), start.Sub(end), "%s: its write waited after its attempt", id)
					}
				}
			})
		})
	}
}
