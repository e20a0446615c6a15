package scenario_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 000 §6, self-retriggering: "we update the dynamo table to indicate
// how many retries a record has attempted or if it's been processed or not.
// This updating meant that each time we processed a record it also
// triggered the lambda, so it just spun in a circle". The lesson: only
// inserts wake the sender; its own state writes never do. The dispatcher
// runs against a store that counts every write, through a backlog with
// retries, dead letters and discards; its runs (wake-ups) are counted too:
// hundreds of writes, and the only wake-ups are the inserts and the retries
// falling due.
func TestOwnWritesNeverWakeTheDispatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		runs, writes := retriggerScenario(t, &countingStore{Store: memstore.New(memstore.Config{})}, true)
		t.Logf("%d state writes, %d runs", writes, runs)
	})
	// The counting can tell: a store that signals its updates, as the
	// DynamoDB stream in the original incident did, wakes the same dispatcher more often.
	t.Run("StoreThatSignalsUpdates", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			honest, _ := retriggerScenario(t, &countingStore{Store: memstore.New(memstore.Config{})}, false)
			chatty, writes := retriggerScenario(t, newChattyStore(), false)
			assert.Greater(t, chatty, honest+int(writes)/2, "a store that signals its %d updates wakes the dispatcher about once per update", writes)
		})
	})
}

// retriggerScenario runs a backlog with retries and dead letters through a
// dispatcher on store and returns how many runs it made and how many state
// writes the store counted. With check, it asserts that the wake-ups were
// exactly the inserts and the due retries.
func retriggerScenario(t *testing.T, store writeCounter, check bool) (runs int, writes int64) {
	const records, perRun = 300, 100
	script := deliverytest.NewScript()
	msgs := backlog("cand", records, nil)
	for i, m := range msgs {
		switch {
		case i%10 == 1: // fail once, retried 1m later
			script.On(m.ID, deliverytest.StatusError(503), nil)
		case i%50 == 2:
			script.On(m.ID, deliverytest.StatusError(400))
		case i%50 == 3:
			script.On(m.ID, classify.Discard(errors.New("invalid record")))
		}
	}
	var obs deliverytest.Observer
	d := newDispatcher(t, delivery.DispatcherConfig{
		Store: store, Deliverer: script, Concurrency: 4, MaxPerRun: perRun, Observer: &obs,
		PollInterval: 24 * time.Hour, // no polling: wake-ups come from inserts and due retries only
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	synctest.Wait()
	if check {
		require.Len(t, obs.Runs(), 1, "one run at start, on an empty store")
	}

	enqueue(t, store, msgs...)
	synctest.Wait()
	afterInsert := len(obs.Runs())
	if check {
		// The insert wakes it: 3 full runs, then one that finds nothing;
		// a run that reached MaxPerRun lets the next start while its last
		// attempts finish, and a next run that found nothing looks again
		// when one of them settles (it may free the next record of a key),
		// so a few more may come, one per full run at most. The writes
		// themselves (hundreds) wake nothing.
		assert.GreaterOrEqual(t, afterInsert, 1+records/perRun+1)
		assert.LessOrEqual(t, afterInsert, 1+2*(records/perRun)+1)
		assert.EqualValues(t, records, store.count(), "one state write per record")
	}

	time.Sleep(time.Minute) // the 30 retries fall due
	synctest.Wait()
	afterRetries := len(obs.Runs())
	if check {
		assert.Contains(t, []int{afterInsert + 2, afterInsert + 3}, afterRetries,
			"woken once when the retries fell due: a run that retries, one that finds nothing (and one that looks again)")
		assert.EqualValues(t, records+records/10, store.count())
	}

	time.Sleep(24*time.Hour - 2*time.Minute) // nothing is due; only a poll could wake it
	synctest.Wait()
	if check {
		assert.Len(t, obs.Runs(), afterRetries, "%d state writes caused no wake-up", store.count())
	}

	st := stats(t, store)
	assert.EqualValues(t, records-2*records/50, st.Count(delivery.StateDelivered))
	assert.EqualValues(t, records/50, st.Count(delivery.StateDead))
	assert.EqualValues(t, records/50, st.Count(delivery.StateDiscarded))
	cancel()
	require.NoError(t, <-done)
	return len(obs.Runs()), store.count()
}

// writeCounter is a store that counts the dispatcher's state writes.
type writeCounter interface {
	delivery.Store
	delivery.Notifier
	count() int64
}

// countingStore counts the dispatcher's state writes. It passes Notify
// through, so the dispatcher is woken by exactly what the store signals.
type countingStore struct {
	*memstore.Store
	writes atomic.Int64
	// signal, if set, is called after every write.
	signal func()
}

func (s *countingStore) count() int64 { return s.writes.Load() }

func (s *countingStore) wrote() {
	s.writes.Add(1)
	if s.signal != nil {
		s.signal()
	}
}

// chattyStore signals its Notify channel on every write as well as on
// inserts, one event per write, as a change stream delivers every update
// (a channel that kept one pending signal would fold a run's writes into
// a wake-up or two, which the dispatcher's own looking again after a run
// can match).
type chattyStore struct {
	*countingStore
	notify chan struct{}
}

func newChattyStore() *chattyStore {
	inner := memstore.New(memstore.Config{})
	s := &chattyStore{countingStore: &countingStore{Store: inner}, notify: make(chan struct{}, 4096)}
	s.signal = func() {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return s
}

func (s *chattyStore) Notify() <-chan struct{} { return s.notify }

func (s *chattyStore) Enqueue(ctx context.Context, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	out, err := s.Store.Enqueue(ctx, msgs...)
	s.signal()
	return out, err
}

func (s *countingStore) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, dup bool) error {
	s.wrote()
	return s.Store.Complete(ctx, l, a, dup)
}

func (s *countingStore) Reschedule(ctx context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	s.wrote()
	return s.Store.Reschedule(ctx, l, next, a)
}

func (s *countingStore) DeadLetter(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	s.wrote()
	return s.Store.DeadLetter(ctx, l, a)
}

func (s *countingStore) Discard(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	s.wrote()
	return s.Store.Discard(ctx, l, a)
}

func (s *countingStore) Release(ctx context.Context, l delivery.Lease) error {
	s.wrote()
	return s.Store.Release(ctx, l)
}
