package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// The transactional outbox: the record commits or rolls back with the
// caller's own writes.
func TestEnqueueTxFollowsCallerTransaction(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	orders := quote(schemaOf(t, store)) + ".orders"
	_, err := pool.Exec(ctx, `CREATE TABLE `+orders+` (id text PRIMARY KEY, state text NOT NULL)`)
	require.NoError(t, err)
	wake := store.Notify()
	waitSignal(t, wake) // the listener's first signal after connecting

	// Rolled back: neither the order nor the record exists, nobody is woken.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO `+orders+` VALUES ('o-1', 'paid')`)
	require.NoError(t, err)
	res, err := store.EnqueueTx(ctx, tx, delivery.Message{ID: "rec-1", Key: "o-1", Payload: []byte(`{"order":"o-1"}`)})
	require.NoError(t, err)
	require.False(t, res[0].Existing)
	require.NoError(t, tx.Rollback(ctx))

	_, err = store.Get(ctx, "rec-1")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "a rolled-back transaction leaves no record")
	assertNoSignal(t, wake, "a rolled-back enqueue wakes nobody")
	recs, err := store.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, recs)

	// The key's bookkeeping rolled back too: a new record of the same key
	// heads it at once.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO `+orders+` VALUES ('o-1', 'paid')`)
	require.NoError(t, err)
	_, err = store.EnqueueTx(ctx, tx, delivery.Message{ID: "rec-2", Key: "o-1", Payload: []byte(`{"order":"o-1"}`)})
	require.NoError(t, err)

	// Not visible to claimers before commit.
	recs, err = store.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, recs, "an uncommitted record is not claimable")
	require.NoError(t, tx.Commit(ctx))
	waitSignal(t, wake)

	recs, err = store.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 1, "a committed record is delivered")
	assert.Equal(t, "rec-2", recs[0].ID)
	require.NoError(t, store.Complete(ctx, recs[0].Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false))
	r, err := store.Get(ctx, "rec-2")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDelivered, r.State)
}

// A caller's REPEATABLE READ transaction cannot make two records head the
// same key: the key's row is locked and read at its latest version.
func TestEnqueueTxRepeatableRead(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)

	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var one int
	require.NoError(t, tx.QueryRow(ctx, `SELECT 1`).Scan(&one)) // take the snapshot now

	// Another transaction enqueues the first record of key K and commits
	// after the caller's snapshot was taken.
	_, err = store.Enqueue(ctx, delivery.Message{ID: "first", Key: "K", Payload: []byte("1")})
	require.NoError(t, err)

	_, err = store.EnqueueTx(ctx, tx, delivery.Message{ID: "second", Key: "K", Payload: []byte("2")})
	require.ErrorContains(t, err, "could not serialize", "a stale snapshot must not decide the head")
	require.NoError(t, tx.Rollback(ctx))

	// Retried in a fresh transaction, as callers of REPEATABLE READ do, it
	// queues behind the first record.
	tx, err = pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	_, err = store.EnqueueTx(ctx, tx, delivery.Message{ID: "second", Key: "K", Payload: []byte("2")})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	recs, err := store.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{"first"}, idsOf(recs))
	require.NoError(t, store.Complete(ctx, recs[0].Lease(), delivery.Attempt{}, false))
	recs, err = store.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Equal(t, []string{"second"}, idsOf(recs))
}

func TestEnqueueTxRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	_, err := store.EnqueueTx(ctx, nil, delivery.Message{Payload: []byte("x")})
	assert.ErrorIs(t, err, delivery.ErrInvalid)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = store.EnqueueTx(ctx, tx, delivery.Message{ID: "ok", Payload: []byte("x")}, delivery.Message{ID: "empty"})
	assert.ErrorIs(t, err, delivery.ErrInvalid)
	assert.ErrorContains(t, err, "postgres: enqueue message 1")
	// Validation failed before any statement: the caller's transaction is
	// still usable.
	var one int
	require.NoError(t, tx.QueryRow(ctx, `SELECT 1`).Scan(&one))
}

func idsOf(recs []delivery.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func schemaOf(t *testing.T, s interface{ Name() string }) string {
	t.Helper()
	for i, c := range s.Name() {
		if c == '.' {
			return s.Name()[:i]
		}
	}
	t.Fatalf("store name %q has no schema", s.Name())
	return ""
}

func waitSignal(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal on Notify within 10s")
	}
}

func assertNoSignal(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
		t.Error(msg)
	case <-time.After(300 * time.Millisecond):
	}
}

// EnqueueTx plans its statements for the table as it is, and gives the
// caller's transaction its own plan_cache_mode back.
func TestEnqueueTxRestoresPlanCacheMode(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	mode := func() string {
		var m string
		require.NoError(t, tx.QueryRow(ctx, `SELECT current_setting('plan_cache_mode')`).Scan(&m))
		return m
	}
	_, err = store.EnqueueTx(ctx, tx, delivery.Message{ID: "a", Key: "K", Payload: []byte("x")})
	require.NoError(t, err)
	assert.Equal(t, "force_generic_plan", mode(), "after new records")
	res, err := store.EnqueueTx(ctx, tx, delivery.Message{ID: "a", Payload: []byte("x")})
	require.NoError(t, err)
	require.True(t, res[0].Existing)
	assert.Equal(t, "force_generic_plan", mode(), "after duplicates only")
}
