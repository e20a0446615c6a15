package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// Lookups with text PostgreSQL cannot hold (NUL bytes, invalid UTF-8) get
// the contract's errors, not a driver error.
func TestUnstorableTextInLookups(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, nil)
	_, err := store.Enqueue(ctx, delivery.Message{ID: "r", Payload: []byte("x")})
	require.NoError(t, err)
	recs, err := store.Claim(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 1)

	for _, bad := range []string{"a\x00b", "\xff\xfe"} {
		_, err := store.Get(ctx, bad)
		assert.ErrorIs(t, err, delivery.ErrNotFound)
		assert.ErrorIs(t, store.Release(ctx, delivery.Lease{ID: bad, Token: recs[0].LeaseToken}), delivery.ErrNotFound)
		assert.ErrorIs(t, store.Release(ctx, delivery.Lease{ID: "r", Token: bad}), delivery.ErrLeaseLost)
		assert.ErrorIs(t, store.Complete(ctx, delivery.Lease{ID: "r", Token: bad}, delivery.Attempt{}, false), delivery.ErrLeaseLost)
		_, err = store.Redrive(ctx, bad)
		assert.ErrorIs(t, err, delivery.ErrNotFound)
		_, err = store.List(ctx, delivery.ListOptions{Key: bad})
		assert.ErrorIs(t, err, delivery.ErrInvalid)
		_, err = store.RedriveMatching(ctx, delivery.Filter{Destination: bad})
		assert.ErrorIs(t, err, delivery.ErrInvalid)
	}
	// An attempt's error text is made storable rather than refused.
	require.NoError(t, store.DeadLetter(ctx, recs[0].Lease(), delivery.Attempt{Error: "bad \x00 bytes \xff here"}))
	r, err := store.Get(ctx, "r")
	require.NoError(t, err)
	assert.Equal(t, "bad  bytes \uFFFD here", r.LastAttempt.Error)
}
