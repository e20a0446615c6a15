package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// The terminal settles of one flush (Complete, DeadLetter, Discard) go as
// one statement, and each still gets its own result: good leases settle,
// leases taken over answer ErrLeaseLost and unknown ids ErrNotFound, the
// next record of each ended key is promoted, and the reschedules and
// releases in the same flush are applied as before.
func TestGroupCommitSendsTerminalSettlesAsOneStatement(t *testing.T) {
	f := newSettleFixture(t, 300, 40, 8)
	f.settleBehindHeldFlush(t)

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
	byID := claimed(t, store, "lead", "twice")
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

// A record completed and then released in one flush keeps the order the
// calls queued in, as two lone settles would: the Complete wins and the
// Release finds the lease gone. (Sending the flush's terminal settles
// together after the others must not reorder calls on one record.)
func TestGroupCommitSettleThenReleaseOfOneRecordKeepOrder(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, nil)
	byID := claimed(t, store, "lead", "x", "y")
	complete := func(id string) error {
		return store.Complete(ctx, byID[id].Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false)
	}
	entered, release := holdFirstFlush(store)
	defer release()

	lead := make(chan error, 1)
	go func() { lead <- complete("lead") }()
	<-entered
	completeX, completeY, releaseX := make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() { completeX <- complete("x") }()
	waitQueued(store, 1)
	go func() { completeY <- complete("y") }()
	waitQueued(store, 2)
	go func() { releaseX <- store.Release(ctx, byID["x"].Lease()) }()
	waitQueued(store, 3)
	release()
	require.NoError(t, <-lead)
	require.NoError(t, <-completeX, "queued first")
	require.NoError(t, <-completeY)
	require.ErrorIs(t, <-releaseX, delivery.ErrLeaseLost, "queued after the Complete of the same lease")
	got, err := store.Get(ctx, "x")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDelivered, got.State, "x stays delivered: it is not sent again")
}

// A flush that fails after its terminal settles' shared statement ran
// (here a statement queued after everything) rolls all of it back, and
// every settle runs again on its own and gets its own result.
func TestGroupCommitFlushFailingAfterTheSharedSettleFallsBack(t *testing.T) {
	f := newSettleFixture(t, 60, 9, 4)
	f.store.InjectAtFlushEndForTest(`SELECT 1/0`)
	f.settleBehindHeldFlush(t)

	statements, _ := f.store.TerminalBatchesForTest()
	assert.Equal(t, int64(1), statements, "the second flush sent its terminal settles together")
	_, _, failed := f.store.GroupCommitStatsForTest()
	assert.Equal(t, int64(2), failed, "both flushes failed, and every settle still got its result")
}

// A terminal settle sent with others as one statement leaves the record
// exactly as a settle sent alone does: state, attempts, the last attempt
// (status, class, error, response, start, duration), the duplicate flag,
// the history and the update time.
func TestGroupCommitSharedSettleWritesWhatALoneSettleWrites(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store, _ := newStore(t, func() time.Time { return now })
	ids := []string{"alone", "shared-1", "shared-2"}
	byID := claimed(t, store, ids...)
	a := delivery.Attempt{StartedAt: now.Add(-time.Second), Duration: 250 * time.Millisecond, Status: 409,
		Class: classify.ClassDuplicate, Error: "already there", Response: `{"id":"p-1"}`}
	complete := func(id string) error { return store.Complete(ctx, byID[id].Lease(), a, true) }
	entered, release := holdFirstFlush(store)
	defer release()

	alone := make(chan error, 1)
	go func() { alone <- complete("alone") }()
	<-entered
	shared := make(chan error, 2)
	for _, id := range ids[1:] {
		go func() { shared <- complete(id) }()
	}
	waitQueued(store, 2)
	release()
	require.NoError(t, <-alone)
	require.NoError(t, <-shared)
	require.NoError(t, <-shared)
	statements, settles := store.TerminalBatchesForTest()
	require.Equal(t, int64(1), statements)
	require.Equal(t, int64(2), settles)

	want, err := store.Get(ctx, "alone")
	require.NoError(t, err)
	require.Equal(t, delivery.StateDelivered, want.State)
	require.Len(t, want.History, 1)
	for _, id := range ids[1:] {
		got, err := store.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want.State, got.State, id)
		assert.Equal(t, want.Attempts, got.Attempts, id)
		assert.Equal(t, want.LastAttempt, got.LastAttempt, id)
		assert.Equal(t, want.Duplicate, got.Duplicate, id)
		assert.Equal(t, want.History, got.History, id)
		assert.True(t, want.UpdatedAt.Equal(got.UpdatedAt), "%s: updated at %v, want %v", id, got.UpdatedAt, want.UpdatedAt)
		assert.Empty(t, got.LeaseToken, id)
	}
}

// claimed enqueues a message with each of ids and claims them all, and
// returns the records by id.
func claimed(t *testing.T, store *postgres.Store, ids ...string) map[string]delivery.Record {
	t.Helper()
	ctx := context.Background()
	msgs := make([]delivery.Message, len(ids))
	for i, id := range ids {
		msgs[i] = delivery.Message{ID: id, Payload: []byte(`{}`)}
	}
	_, err := store.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	recs, err := store.Claim(ctx, len(ids), time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, len(ids))
	byID := make(map[string]delivery.Record, len(recs))
	for _, r := range recs {
		byID[r.ID] = r
	}
	return byID
}
