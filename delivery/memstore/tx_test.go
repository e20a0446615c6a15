package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// signalled reports whether s.Notify holds a signal, consuming it. The
// store signals synchronously, so no wait is needed.
func signalled(s *memstore.Store) bool {
	select {
	case <-s.Notify():
		return true
	default:
		return false
	}
}

// A test transaction: rolled back, it stores nothing and signals nobody;
// committed, its records appear, Notify fires, and a Dispatcher delivers
// them.
func TestTxCommitAndRollback(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx := context.Background()
	s := memstore.New(memstore.Config{})
	msg := func(id string) delivery.Message {
		return delivery.Message{ID: id, Key: "order-1", Payload: []byte(`{}`), Headers: map[string]string{"X": "y"}}
	}

	tx := s.Begin()
	res, err := s.EnqueueTx(ctx, tx, msg("a"))
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.False(t, res[0].Existing)
	assert.Equal(t, delivery.StatePending, res[0].Record.State)
	require.NoError(t, tx.Rollback())
	_, err = s.Get(ctx, "a")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "a rolled-back transaction stores nothing")
	assert.False(t, signalled(s), "a rolled-back transaction wakes nobody")
	require.ErrorIs(t, tx.Commit(), memstore.ErrTxDone, "commit after rollback")
	_, err = s.Get(ctx, "a")
	assert.ErrorIs(t, err, delivery.ErrNotFound)

	tx = s.Begin()
	_, err = s.EnqueueTx(ctx, tx, msg("b"), msg("c"))
	require.NoError(t, err)
	again, err := s.EnqueueTx(ctx, tx, msg("b"))
	require.NoError(t, err)
	assert.True(t, again[0].Existing, "an earlier message of the transaction")
	_, err = s.Get(ctx, "b")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "invisible before commit")
	assert.False(t, signalled(s), "nobody woken before commit")
	require.NoError(t, tx.Commit())
	assert.True(t, signalled(s), "commit wakes dispatchers")
	r, err := s.Get(ctx, "b")
	require.NoError(t, err)
	assert.Equal(t, msg("b").Headers, r.Headers)
	require.ErrorIs(t, tx.Rollback(), memstore.ErrTxDone, "rollback after commit")
	require.ErrorIs(t, tx.Commit(), memstore.ErrTxDone, "commit twice")
	_, err = s.EnqueueTx(ctx, tx, msg("d"))
	require.ErrorIs(t, err, memstore.ErrTxDone, "enqueue after commit")

	delivered := make(chan string, 4)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: s, Deliverer: delivery.DelivererFunc(
		func(_ context.Context, m *delivery.Message) error { delivered <- m.ID; return nil })})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	got := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case id := <-delivered:
			got[id] = true
		case <-timeout:
			t.Fatalf("delivered %v within 10s", got)
		}
	}
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, map[string]bool{"b": true, "c": true}, got)
}

// Bad input: a nil transaction, one of another store, an invalid message
// and a conflicting duplicate are errors, and nothing of the call is
// staged.
func TestTxBadInput(t *testing.T) {
	ctx := context.Background()
	s := memstore.New(memstore.Config{})
	ok := delivery.Message{ID: "ok", IdempotencyKey: "k", Payload: []byte(`{}`)}

	_, err := s.EnqueueTx(ctx, nil, ok)
	require.ErrorIs(t, err, delivery.ErrInvalid)
	_, err = s.EnqueueTx(ctx, memstore.New(memstore.Config{}).Begin(), ok)
	require.ErrorIs(t, err, delivery.ErrInvalid)
	assert.Contains(t, err.Error(), "another store")

	_, err = s.Enqueue(ctx, ok)
	require.NoError(t, err)
	tx := s.Begin()
	res, err := s.EnqueueTx(ctx, tx, ok)
	require.NoError(t, err)
	assert.True(t, res[0].Existing, "a committed record is found")
	_, err = s.EnqueueTx(ctx, tx, delivery.Message{ID: "new", Payload: []byte(`{}`)},
		delivery.Message{ID: "other", IdempotencyKey: "k", Payload: []byte(`{"x":1}`)})
	require.ErrorIs(t, err, delivery.ErrConflict)
	_, err = s.EnqueueTx(ctx, tx, delivery.Message{Payload: nil, Destination: "bad\x00"})
	require.ErrorIs(t, err, delivery.ErrInvalid)
	require.NoError(t, tx.Commit())
	_, err = s.Get(ctx, "new")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "a failed call stages nothing")

	// A record committed meanwhile that conflicts with the transaction's
	// fails the commit, which stores nothing of it.
	tx = s.Begin()
	_, err = s.EnqueueTx(ctx, tx, delivery.Message{ID: "x1", Payload: []byte(`{}`)}, delivery.Message{ID: "x2", Payload: []byte(`{"a":1}`)})
	require.NoError(t, err)
	_, err = s.Enqueue(ctx, delivery.Message{ID: "x2", Payload: []byte(`{"a":2}`)})
	require.NoError(t, err)
	require.ErrorIs(t, tx.Commit(), delivery.ErrConflict)
	_, err = s.Get(ctx, "x1")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
}
