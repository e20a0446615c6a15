package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
)

// settleTask is one settle a test makes and the result it expects.
type settleTask struct {
	lease delivery.Lease
	key   string
	op    int // index into settleOps
	want  error
}

// settleOps are the settles the group commit tests mix, with the state
// each leaves a record in when its lease is good.
var settleOps = []struct {
	state delivery.State
	do    func(ctx context.Context, s *postgres.Store, l delivery.Lease, now time.Time) error
}{
	{delivery.StateDelivered, func(ctx context.Context, s *postgres.Store, l delivery.Lease, _ time.Time) error {
		return s.Complete(ctx, l, delivery.Attempt{Class: classify.ClassOK, Status: 200}, false)
	}},
	{delivery.StateDelivered, func(ctx context.Context, s *postgres.Store, l delivery.Lease, _ time.Time) error {
		return s.Complete(ctx, l, delivery.Attempt{Class: classify.ClassOK, Status: 200}, true)
	}},
	{delivery.StateDead, func(ctx context.Context, s *postgres.Store, l delivery.Lease, _ time.Time) error {
		return s.DeadLetter(ctx, l, delivery.Attempt{Class: classify.ClassPermanent, Status: 400, Error: "bad"})
	}},
	{delivery.StateDiscarded, func(ctx context.Context, s *postgres.Store, l delivery.Lease, _ time.Time) error {
		return s.Discard(ctx, l, delivery.Attempt{Class: classify.ClassDiscard, Status: 410})
	}},
	{delivery.StatePending, func(ctx context.Context, s *postgres.Store, l delivery.Lease, now time.Time) error {
		return s.Reschedule(ctx, l, now.Add(time.Hour), &delivery.Attempt{Class: classify.ClassEphemeral, Status: 503})
	}},
	{delivery.StatePending, func(ctx context.Context, s *postgres.Store, l delivery.Lease, now time.Time) error {
		return s.Reschedule(ctx, l, now.Add(time.Hour), nil)
	}},
	{delivery.StatePending, func(ctx context.Context, s *postgres.Store, l delivery.Lease, _ time.Time) error {
		return s.Release(ctx, l)
	}},
}

// settleFixture claims every record of a fresh outbox, lets the leases of
// the first stale of them be taken over, and returns one settle task per
// first lease (ErrLeaseLost expected for the stale ones) plus missing
// tasks for ids that do not exist (ErrNotFound). Every 51st record is the
// head of a key with a second record behind it.
type settleFixture struct {
	store *postgres.Store
	pool  *pgxpool.Pool
	clock *atomic.Int64 // microseconds after base
	base  time.Time
	tasks []settleTask
	stale map[string]bool
}

func (f *settleFixture) now() time.Time {
	return f.base.Add(time.Duration(f.clock.Load()) * time.Microsecond)
}

func newSettleFixture(t *testing.T, heads, stale, missing int) *settleFixture {
	t.Helper()
	ctx := context.Background()
	f := &settleFixture{clock: new(atomic.Int64), base: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), stale: map[string]bool{}}
	f.store, f.pool = newStore(t, f.now)

	var msgs []delivery.Message
	var seconds []delivery.Message
	for i := range heads {
		m := delivery.Message{ID: fmt.Sprintf("u-%05d", i), Payload: []byte(`{}`)}
		if i%51 == 50 {
			m.Key = fmt.Sprintf("k-%05d", i)
			m.ID = m.Key + "/0"
			seconds = append(seconds, delivery.Message{ID: m.Key + "/1", Key: m.Key, Payload: []byte(`{}`)})
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, seconds...)
	for len(msgs) > 0 {
		n := min(500, len(msgs))
		_, err := f.store.Enqueue(ctx, msgs[:n]...)
		require.NoError(t, err)
		msgs = msgs[n:]
	}

	var claimed []delivery.Record
	for {
		recs, err := f.store.Claim(ctx, 500, time.Minute)
		require.NoError(t, err)
		if len(recs) == 0 {
			break
		}
		claimed = append(claimed, recs...)
	}
	require.Len(t, claimed, heads, "every head and nothing behind a key is claimed")

	f.clock.Add((2 * time.Minute).Microseconds())
	taken, err := f.store.Claim(ctx, stale, time.Hour)
	require.NoError(t, err)
	require.Len(t, taken, stale)
	for _, r := range taken {
		f.stale[r.ID] = true
	}

	for i, r := range claimed {
		task := settleTask{lease: r.Lease(), key: r.Key, op: i % len(settleOps)}
		if f.stale[r.ID] {
			task.want = delivery.ErrLeaseLost
		}
		f.tasks = append(f.tasks, task)
	}
	for i := range missing {
		f.tasks = append(f.tasks, settleTask{lease: delivery.Lease{ID: fmt.Sprintf("missing-%d", i), Token: "t"}, want: delivery.ErrNotFound})
	}
	// Interleave stale, missing and good settles.
	for i := range f.tasks {
		j := (i * 7919) % len(f.tasks)
		f.tasks[i], f.tasks[j] = f.tasks[j], f.tasks[i]
	}
	return f
}

// run settles task i and checks its result.
func (f *settleFixture) run(t *testing.T, ctx context.Context, i int) {
	task := f.tasks[i]
	err := settleOps[task.op].do(ctx, f.store, task.lease, f.now())
	if task.want == nil {
		assert.NoError(t, err, "settle %s", task.lease.ID)
	} else {
		assert.ErrorIs(t, err, task.want, "settle %s", task.lease.ID)
	}
}

// runAll settles every task from the given number of goroutines.
func (f *settleFixture) runAll(t *testing.T, goroutines int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(f.tasks); i = int(next.Add(1) - 1) {
				f.run(t, context.Background(), i)
			}
		})
	}
	wg.Wait()
}

// check verifies every record's final state, and that exactly the records
// the settles made claimable are: the released ones and the second record
// of every key whose head ended.
func (f *settleFixture) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	states := map[string]delivery.State{}
	rows, err := f.pool.Query(ctx, `SELECT id, state FROM `+f.store.Name())
	require.NoError(t, err)
	for rows.Next() {
		var id string
		var st int16
		require.NoError(t, rows.Scan(&id, &st))
		states[id] = delivery.State(st)
	}
	require.NoError(t, rows.Err())

	wantClaimable := map[string]bool{}
	for _, task := range f.tasks {
		id := task.lease.ID
		switch {
		case task.want == delivery.ErrNotFound:
			assert.NotContains(t, states, id)
		case f.stale[id]:
			assert.Equal(t, delivery.StateInFlight, states[id], "%s: the stale settle changed nothing", id)
		default:
			want := settleOps[task.op].state
			assert.Equal(t, want, states[id], "%s", id)
			if task.op == len(settleOps)-1 { // released: due now
				wantClaimable[id] = true
			}
			if task.key != "" && want.Terminal() {
				wantClaimable[task.key+"/1"] = true
			}
		}
	}
	got := map[string]bool{}
	for {
		recs, err := f.store.Claim(ctx, 500, time.Hour)
		require.NoError(t, err)
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			got[r.ID] = true
		}
	}
	assert.Equal(t, wantClaimable, got, "released records and the next of each ended key, nothing else")
}

// Many goroutines settle thousands of records, some with leases taken over
// and some unknown: each gets its own result, the records end in the right
// states, the next record of each ended key is promoted, and settles were
// really flushed together.
func TestGroupCommitConcurrentSettles(t *testing.T) {
	f := newSettleFixture(t, 5000, 600, 50)
	f.runAll(t, 64)
	f.check(t)

	flushes, settles, failed := f.store.GroupCommitStatsForTest()
	t.Logf("%d settles in %d flushes", settles, flushes)
	assert.Equal(t, int64(len(f.tasks)), settles, "every settle went through one flush")
	assert.Less(t, flushes, settles, "settles were flushed together")
	assert.Zero(t, failed)
}

// holdFirstFlush makes the store's first flush wait until the returned
// release is called; entered is closed when it starts waiting.
func holdFirstFlush(s *postgres.Store) (entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	s.BeforeFlushForTest(func() {
		if first.CompareAndSwap(false, true) {
			close(in)
			<-out
		}
	})
	return in, sync.OnceFunc(func() { close(out) })
}

// waitQueued waits until n settles are queued behind a held flush.
func waitQueued(s *postgres.Store, n int) {
	for s.QueuedForTest() < n {
		runtime.Gosched()
	}
}

// settleBehindHeldFlush settles every task in two flushes: the first
// task leads and holds its flush, every other one queues behind it and
// goes in the second. Then it checks the records (check).
func (f *settleFixture) settleBehindHeldFlush(t *testing.T) {
	t.Helper()
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
}

// A flush that fails (here a statement that divides by zero, queued after
// half the batch's settles, so those are rolled back) fails nobody: every
// settle runs again on its own and gets its own result.
func TestGroupCommitFailedFlushFallsBack(t *testing.T) {
	f := newSettleFixture(t, 60, 9, 4)
	f.store.InjectIntoFlushForTest(`SELECT 1/0`)
	f.settleBehindHeldFlush(t)

	flushes, settles, failed := f.store.GroupCommitStatsForTest()
	assert.Equal(t, int64(2), flushes)
	assert.Equal(t, int64(len(f.tasks)), settles)
	assert.Equal(t, int64(2), failed, "both flushes failed, and every settle still got its result")
}

// A caller whose context ends while it waits for a flush returns at once,
// while the flush is still held; a settle whose caller left before its
// flush began is not sent. The others are flushed as usual.
func TestGroupCommitWaiterCancellation(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, nil)
	killtest.Enqueue(t, store, "c", 4)
	var recs []delivery.Record
	for len(recs) < 4 {
		got, err := store.Claim(ctx, 4, time.Minute)
		require.NoError(t, err)
		require.NotEmpty(t, got)
		recs = append(recs, got...)
	}
	complete := func(ctx context.Context, r delivery.Record) error {
		return store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false)
	}
	entered, release := holdFirstFlush(store)
	defer release()

	leader := make(chan error, 1)
	go func() { leader <- complete(ctx, recs[0]) }()
	<-entered

	live := make(chan error, 1)
	go func() { live <- complete(ctx, recs[1]) }()
	waitQueued(store, 1)

	leaving, leave := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() { left <- complete(leaving, recs[2]) }()
	waitQueued(store, 2)
	leave()
	assert.ErrorIs(t, <-left, context.Canceled, "returns while the flush is still held")

	gone, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, complete(gone, recs[3]), context.Canceled)

	release()
	require.NoError(t, <-leader)
	require.NoError(t, <-live)
	want := []delivery.State{delivery.StateDelivered, delivery.StateDelivered, delivery.StateInFlight, delivery.StateInFlight}
	for i, r := range recs {
		got, err := store.Get(ctx, r.ID)
		require.NoError(t, err)
		assert.Equal(t, want[i], got.State, "%s", r.ID)
	}
	flushes, settles, _ := store.GroupCommitStatsForTest()
	assert.Equal(t, int64(2), flushes)
	assert.Equal(t, int64(2), settles, "the settles whose callers left were not sent")
}

// A flush gives up a lock wait after 100ms: while a caller transaction
// holds a key, that key's settle waits on its own and the settles queued
// behind it are not held up.
func TestGroupCommitLockWaitDoesNotHoldUpOthers(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	_, err := store.Enqueue(ctx, delivery.Message{ID: "held", Key: "k", Payload: []byte(`{}`)},
		delivery.Message{ID: "free", Payload: []byte(`{}`)})
	require.NoError(t, err)
	recs, err := store.Claim(ctx, 2, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	byID := map[string]delivery.Record{recs[0].ID: recs[0], recs[1].ID: recs[1]}
	complete := func(ctx context.Context, id string) error {
		return store.Complete(ctx, byID[id].Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false)
	}

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `UPDATE `+store.Name()+`_keys SET live = live WHERE key = 'k'`)
	require.NoError(t, err)

	started := make(chan struct{})
	var once sync.Once
	store.BeforeFlushForTest(func() { once.Do(func() { close(started) }) })
	held := make(chan error, 1)
	go func() { held <- complete(ctx, "held") }()
	<-started // "held" leads the first flush, which waits for the key

	// Bounded only so that a broken store fails the test instead of
	// hanging it; the flush ahead gives up after 100ms.
	bounded, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, complete(bounded, "free"), "not held up by the key's lock")

	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-held, "the held settle ran on its own once the key was free")
	for _, id := range []string{"held", "free"} {
		r, err := store.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, r.State, id)
	}
	_, _, failed := store.GroupCommitStatsForTest()
	assert.Equal(t, int64(1), failed, "the flush that waited for the key failed")
}
