package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// The terminal settles of one flush (Complete, DeadLetter, Discard) go as
// one statement, and each still gets its own result: good leases settle,
// leases taken over answer ErrLeaseLost and unknown ids ErrNotFound, the
// next record of each ended key is promoted, and the reschedules and
// releases in the same flush are applied as before.
func TestGroupCommitSendsTerminalSettlesAsOneStatement(t *testing.T) {
	f := newSettleFixture(t, 300, 40, 8)
	entered, release := holdFirstFlush(f.store)
	defer release()

	var wg sync.WaitGroup
	wg.Go(func() { f.run(t, context.Background(), 0) })
	<-entered
	for i := 1; i < len(f.tasks); i++ {
		wg.Go(func() { f.run(t, context.Background(), i) })
	}
	waitQueued(f.store, len(f.tasks)-1)
	release()
	wg.Wait()
	f.check(t)

	terminal := 0
	for _, task := range f.tasks[1:] {
		if task.want == delivery.ErrNotFound || settleOps[task.op].state.Terminal() {
			terminal++
		}
	}
	statements, settles := f.store.TerminalBatchesForTest()
	t.Logf("%d terminal settles queued behind the first flush; %d statements held %d", terminal, statements, settles)
	assert.Equal(t, int64(terminal), settles, "every queued terminal settle went in a shared statement")
	assert.GreaterOrEqual(t, statements, int64(1))
	assert.LessOrEqual(t, statements, int64((len(f.tasks)-1+127)/128), "one per flush of at most 128 settles")
	_, _, failed := f.store.GroupCommitStatsForTest()
	assert.Zero(t, failed)
}

// The same lease settled twice in one flush is settled once: the flush
// sends its terminal settles one by one, as two lone settles would go, so
// the first wins and the second answers ErrLeaseLost.
func TestGroupCommitSameLeaseTwiceInOneFlush(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, nil)
	_, err := store.Enqueue(ctx, delivery.Message{ID: "lead", Payload: []byte(`{}`)},
		delivery.Message{ID: "twice", Payload: []byte(`{}`)})
	require.NoError(t, err)
	recs, err := store.Claim(ctx, 2, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	byID := map[string]delivery.Record{recs[0].ID: recs[0], recs[1].ID: recs[1]}
	complete := func(r delivery.Record) error {
		return store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false)
	}
	entered, release := holdFirstFlush(store)
	defer release()

	lead := make(chan error, 1)
	go func() { lead <- complete(byID["lead"]) }()
	<-entered
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- complete(byID["twice"]) }()
	}
	waitQueued(store, 2)
	release()
	require.NoError(t, <-lead)
	errs := []error{<-results, <-results}
	var ok, lost int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case assert.ErrorIs(t, err, delivery.ErrLeaseLost):
			lost++
		}
	}
	assert.Equal(t, 1, ok, "one of the two settles the record: %v", errs)
	assert.Equal(t, 1, lost, "the other finds the lease gone: %v", errs)
	statements, _ := store.TerminalBatchesForTest()
	assert.Zero(t, statements, "a flush holding one id twice sends its settles one by one")
	got, err := store.Get(ctx, "twice")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDelivered, got.State)
	assert.Equal(t, 1, got.Attempts, "settled once")
}
