package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// unrecordedPeak drains n records with slow writes and quick attempts,
// through run, and returns the most records that were ever sent and not
// yet recorded at once.
func unrecordedPeak(t *testing.T, n, concurrency, maxPerRun int, run func(*delivery.Dispatcher)) int32 {
	t.Helper()
	var sent, peak atomic.Int32
	store := &slowWrites{Store: memstore.New(memstore.Config{}), took: time.Second}
	for i := range n {
		enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Payload: pl("x")})
	}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: concurrency, MaxPerRun: maxPerRun,
		Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			// Sent, whose outcomes are not yet written: what a crash now
			// would leave to be sent again.
			raise(&peak, sent.Add(1)-store.written.Load())
			time.Sleep(time.Millisecond)
			return nil
		})})
	run(d)
	st, err := store.Stats(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, n, st.Count(delivery.StateDelivered), "every record delivered")
	return peak.Load()
}

// runUntilDrained runs d until its store has nothing more to claim.
func runUntilDrained(d *delivery.Dispatcher) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_ = d.Run(ctx)
}

// twoRunOnces runs d.RunOnce twice at once, until both find nothing.
func twoRunOnces(d *delivery.Dispatcher) {
	done := make(chan struct{})
	for range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				rep, err := d.RunOnce(context.Background())
				if err != nil || rep.Claimed == 0 {
					return
				}
			}
		}()
	}
	<-done
	<-done
}

// DispatcherConfig.Concurrency: a process that dies leaves at most twice
// Concurrency records sent and not yet recorded, in the whole Dispatcher:
// runs that Run overlaps (a run that claimed MaxPerRun lets the next start
// while its attempts finish) and RunOnce calls at once share that bound.
// Each run had its own twice Concurrency before, so overlapping runs held
// up to eight records at Concurrency 2, and 32 at 8.
func TestRecordsNotYetRecordedStayWithinTwiceConcurrency(t *testing.T) {
	for _, c := range []struct {
		name                   string
		n, concurrency, perRun int
		run                    func(*delivery.Dispatcher)
	}{
		{"Run, MaxPerRun 8", 64, 2, 8, runUntilDrained},
		{"Run, default MaxPerRun", 2560, 8, 0, runUntilDrained},
		{"two RunOnce at once", 32, 2, 8, twoRunOnces},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				peak := unrecordedPeak(t, c.n, c.concurrency, c.perRun, c.run)
				assert.LessOrEqual(t, peak, int32(2*c.concurrency), "records sent and not yet recorded, at most twice Concurrency")
				assert.Greater(t, peak, int32(c.concurrency), "the writers did overlap the next attempts with slow writes")
			})
		})
	}
}

// At Concurrency 1 each outcome is written before the next attempt, also
// when RunOnce runs twice at once: one record at most is sent and not yet
// recorded. The worker gave its attempt token back before its write, so
// the other run attempted while it wrote.
func TestConcurrencyOneWritesBeforeTheNextAttemptAcrossRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		peak := unrecordedPeak(t, 8, 1, 4, twoRunOnces)
		assert.EqualValues(t, 1, peak, "one record at most sent and not yet recorded")
	})
}

type panickingDestinationObserver struct{}

func (panickingDestinationObserver) ObserveAttempt(context.Context, delivery.AttemptEvent) {}
func (panickingDestinationObserver) ObserveRun(context.Context, delivery.Report)           {}
func (panickingDestinationObserver) ObserveDestination(context.Context, delivery.DestinationEvent) {
	panic("observer bug")
}

// Observer: "A panic in a method is recovered and logged through
// slog.Default, never allowed to end the process". ObserveDestination's
// was not: the pause of a destination that went down took the process
// with it.
func TestDestinationObserverPanicIsRecovered(t *testing.T) {
	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "r-1", Payload: pl("x")})
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: 2,
		Observer: panickingDestinationObserver{},
		Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			return classify.Unavailable(errors.New("partner down"))
		})})
	rep, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Positive(t, rep.ObserverPanics, "the panic was recovered and counted")
	assert.Equal(t, delivery.StatePending, get(t, store, "r-1").State, "the record waits for its destination")
}

// slowDestinationStore answers PauseDestination after pauseTook, or when
// the call's context ends, as a database would; its Reschedule takes
// rescheduleTook.
type slowDestinationStore struct {
	delivery.Store
	pauseTook, rescheduleTook time.Duration
}

func (s *slowDestinationStore) PauseDestination(ctx context.Context, name string, p delivery.Pause) (delivery.Destination, error) {
	select {
	case <-time.After(s.pauseTook):
		return s.Store.PauseDestination(ctx, name, p)
	case <-ctx.Done():
		return delivery.Destination{}, ctx.Err()
	}
}

func (s *slowDestinationStore) Reschedule(ctx context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	time.Sleep(s.rescheduleTook)
	return s.Store.Reschedule(ctx, l, next, a)
}

// Lease covers the gate check, the attempt and the outcome write. The
// store calls an answer leads to about its destination (here the pause of
// a destination that is down) come between the attempt and the write, so
// they end one StoreTimeout before the lease does: a slow pause is cut
// off (and reported) rather than push the outcome write past the lease,
// where another process could take the record over and send it again.
// With each taking up to StoreTimeout, the record's outcome was written
// 12.9s into a 12.5s lease.
func TestDestinationCallsLeaveTheOutcomeWriteItsLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memstore.New(memstore.Config{})
		store := &slowDestinationStore{Store: mem, pauseTook: 9900 * time.Millisecond, rescheduleTook: 3 * time.Second}
		enqueue(t, store, delivery.Message{ID: "r-1", Payload: pl("x")})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: 2,
			AttemptTimeout: time.Second, StoreTimeout: 10 * time.Second, Lease: 12500 * time.Millisecond, MaxPerRun: 1,
			Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
				time.Sleep(10 * time.Millisecond)
				return classify.Unavailable(errors.New("partner down"))
			})})
		go func() {
			time.Sleep(12600 * time.Millisecond) // another process, once the lease is over
			_, _ = mem.Claim(context.Background(), 1, time.Minute)
		}()
		start := time.Now()
		rep, err := d.RunOnce(context.Background())
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the pause that could not be written in time is reported")
		assert.Less(t, time.Since(start), 12500*time.Millisecond, "the outcome was written within the lease")
		assert.Zero(t, rep.LeaseLost, "the outcome was written within the record's lease")
		assert.Equal(t, 1, rep.Deferred)
		time.Sleep(13 * time.Second) // the other process has looked
	})
}
