package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// TxStore is a store under test with a transactional enqueue: Store is the
// store itself, Enqueuer its EnqueueTx in a caller's transaction of type
// Tx, and Begin, Commit and Rollback run such a transaction as the
// caller's own code would.
type TxStore[Tx any] struct {
	Store    delivery.Store
	Enqueuer delivery.TxEnqueuer[Tx]
	Begin    func(ctx context.Context) (Tx, error)
	Commit   func(tx Tx) error
	Rollback func(tx Tx) error
}

// TxFactory returns a new, empty store with its transactions, reading the
// time only from now.
type TxFactory[Tx any] func(t *testing.T, now func() time.Time) TxStore[Tx]

// RunTx runs the transactional enqueue cases against stores made by
// newStore, each subtest with a fresh store and clock: records enqueued in
// a transaction are invisible until it commits, and then claimable; a rollback leaves nothing and wakes no dispatcher; a message
// already stored comes back Existing; a bad message is an error wrapping
// delivery.ErrInvalid that stores nothing.
func RunTx[Tx any](t *testing.T, newStore TxFactory[Tx]) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness, ts TxStore[Tx])
	}{
		{"TxCommit", testTxCommit[Tx]},
		{"TxRollback", testTxRollback[Tx]},
		{"TxExisting", testTxExisting[Tx]},
		{"TxBadInput", testTxBadInput[Tx]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &Clock{}
			h := &harness{t: t, clock: clock, ctx: context.Background()}
			ts := newStore(t, clock.Now)
			require.NotNil(t, ts.Store, "TxStore.Store")
			require.NotNil(t, ts.Enqueuer, "TxStore.Enqueuer")
			h.store = ts.Store
			tc.fn(t, h, ts)
		})
	}
}

// quietNotify returns the store's wake-up channel, if it has one, once it
// has stayed silent for quietFor: a store may signal on its own when it
// starts listening (PostgreSQL's listener does, for inserts it may have
// missed), and that signal must not be taken for one the test caused.
func quietNotify(t *testing.T, s delivery.Store) <-chan struct{} {
	n, ok := s.(delivery.Notifier)
	if !ok {
		return nil
	}
	ch := n.Notify()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-ch:
		case <-time.After(quietFor):
			return ch
		case <-deadline:
			t.Fatal("the store's Notify never stays silent")
		}
	}
}

// quietFor is how long a wake-up channel must stay silent to count as
// quiet, and how long a test waits for a wake-up that must not come: one
// travelling through a database (NOTIFY) arrives well within it.
const quietFor = 300 * time.Millisecond

func testTxCommit[Tx any](t *testing.T, h *harness, ts TxStore[Tx]) {
	tx, err := ts.Begin(h.ctx)
	require.NoError(t, err)
	got, err := ts.Enqueuer.EnqueueTx(h.ctx, tx,
		delivery.Message{ID: "tx-1", Payload: payload("tx-1")},
		delivery.Message{ID: "tx-2", Key: "k", Payload: payload("tx-2")})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.False(t, got[0].Existing)
	assert.Equal(t, "tx-2", got[1].Record.ID)

	// Only read before the commit: a store on one file (SQLite) lets no
	// other writer, a claim included, in while the transaction is open.
	_, err = h.store.Get(h.ctx, "tx-1")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "invisible before the commit")
	assert.Zero(t, h.stats().Count(delivery.StatePending), "not counted before the commit")

	require.NoError(t, ts.Commit(tx))
	assert.Equal(t, delivery.StatePending, h.get("tx-1").State)
	assert.ElementsMatch(t, []string{"tx-1", "tx-2"}, ids(h.claim(10)), "claimable after the commit")
}

func testTxRollback[Tx any](t *testing.T, h *harness, ts TxStore[Tx]) {
	notify := quietNotify(t, h.store)
	tx, err := ts.Begin(h.ctx)
	require.NoError(t, err)
	_, err = ts.Enqueuer.EnqueueTx(h.ctx, tx, delivery.Message{ID: "gone", Payload: payload("gone")})
	require.NoError(t, err)
	require.NoError(t, ts.Rollback(tx))

	_, err = h.store.Get(h.ctx, "gone")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "nothing stored")
	assert.Empty(t, h.claim(10), "nothing claimable")
	assert.Zero(t, h.stats().Count(delivery.StatePending))
	if notify != nil {
		select {
		case <-notify:
			t.Error("a rolled-back enqueue woke a dispatcher")
		case <-time.After(quietFor):
		}
	}
	// The ID is free: enqueued again, it is a new record.
	got := h.enqueue(delivery.Message{ID: "gone", Payload: payload("gone")})
	assert.Equal(t, "gone", got[0].ID)
}

func testTxExisting[Tx any](t *testing.T, h *harness, ts TxStore[Tx]) {
	h.enqueue(delivery.Message{ID: "dup", IdempotencyKey: "idem", Payload: payload("dup")})
	tx, err := ts.Begin(h.ctx)
	require.NoError(t, err)
	got, err := ts.Enqueuer.EnqueueTx(h.ctx, tx,
		delivery.Message{ID: "dup", IdempotencyKey: "idem", Payload: payload("dup")},
		delivery.Message{ID: "other", IdempotencyKey: "idem", Payload: payload("dup")})
	require.NoError(t, err)
	require.NoError(t, ts.Commit(tx))
	require.Len(t, got, 2)
	assert.True(t, got[0].Existing, "the same ID is the stored record")
	assert.True(t, got[1].Existing, "the same idempotency key is the stored record")
	assert.Equal(t, "dup", got[1].Record.ID)
	assert.EqualValues(t, 1, h.stats().Count(delivery.StatePending))
}

func testTxBadInput[Tx any](t *testing.T, h *harness, ts TxStore[Tx]) {
	tx, err := ts.Begin(h.ctx)
	require.NoError(t, err)
	_, err = ts.Enqueuer.EnqueueTx(h.ctx, tx,
		delivery.Message{ID: "ok", Payload: payload("ok")},
		delivery.Message{ID: "no-payload"})
	require.ErrorIs(t, err, delivery.ErrInvalid)
	require.NoError(t, ts.Rollback(tx))
	_, err = h.store.Get(h.ctx, "ok")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "nothing of the call stored")
}
