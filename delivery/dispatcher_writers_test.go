package delivery_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// slowWrites is a Store whose Complete takes a second and counts the
// writes in progress.
type slowWrites struct {
	delivery.Store
	writing, peak atomic.Int32
}

func (s *slowWrites) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, duplicate bool) error {
	raise(&s.peak, s.writing.Add(1))
	defer s.writing.Add(-1)
	time.Sleep(time.Second)
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
// within Concurrency, and at Concurrency 1 they stay in claim order.
func TestNextAttemptStartsWhileTheOutcomeIsWritten(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("Concurrency %d", conc), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 40
				store := &slowWrites{Store: memstore.New(memstore.Config{})}
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
					// One writer, so outcomes keep claim order: the writes
					// follow one another and every attempt but the first
					// runs while the write before it does.
					assert.Equal(t, time.Duration(n)*time.Second+100*time.Millisecond, took, "each attempt overlaps the write before it")
					assert.EqualValues(t, 1, store.peak.Load(), "one writer at Concurrency 1")
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
					assert.LessOrEqual(t, store.peak.Load(), int32(2*conc), "at most twice Concurrency outcome writers")
				}
			})
		})
	}
}
