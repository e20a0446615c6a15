package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// EnqueueTx, like Enqueue (held to it by storetest), fills an empty
// CorrelationID from the context: a record written in a request handler's
// transaction keeps the request's correlation id once committed.
func TestEnqueueTxCorrelationFromContext(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	reqCtx := delivery.WithCorrelationID(ctx, "req-42")

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err := store.EnqueueTx(reqCtx, tx,
		delivery.Message{ID: "from-ctx", IdempotencyKey: "k-1", Payload: []byte("1")},
		delivery.Message{ID: "own", CorrelationID: "own-corr", Payload: []byte("2")},
	)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "req-42", res[0].Record.CorrelationID)
	assert.Equal(t, "own-corr", res[1].Record.CorrelationID)
	require.NoError(t, tx.Commit(ctx))

	got, err := store.Get(ctx, "from-ctx")
	require.NoError(t, err)
	assert.Equal(t, "req-42", got.CorrelationID)
	got, err = store.Get(ctx, "own")
	require.NoError(t, err)
	assert.Equal(t, "own-corr", got.CorrelationID)

	// A duplicate under another request's id returns the stored record as
	// it was.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	res, err = store.EnqueueTx(delivery.WithCorrelationID(ctx, "req-43"), tx,
		delivery.Message{ID: "dup", IdempotencyKey: "k-1", Payload: []byte("1")})
	require.NoError(t, err)
	require.True(t, res[0].Existing)
	assert.Equal(t, "from-ctx", res[0].Record.ID)
	assert.Equal(t, "req-42", res[0].Record.CorrelationID)
	require.NoError(t, tx.Commit(ctx))
	got, err = store.Get(ctx, "from-ctx")
	require.NoError(t, err)
	assert.Equal(t, "req-42", got.CorrelationID)
	_, err = store.Get(ctx, "dup")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
}
