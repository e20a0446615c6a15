package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// Two transactions enqueue the same destination and idempotency key at
// once: the second waits for the first on the unique index, finds its
// record when it commits, and answers as if it had been there all along:
// Existing for the same payload, ErrConflict (nothing stored) for another.
func TestEnqueueRacesAnotherTransactionForOneKey(t *testing.T) {
	for _, tc := range []struct {
		name     string
		payload  string
		conflict bool
	}{
		{"same payload", "v1", false},
		{"other payload", "v2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store, pool := newStore(t, nil)
			tx, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			_, err = store.EnqueueTx(ctx, tx, delivery.Message{ID: "first", Destination: "ats", IdempotencyKey: "k", Payload: []byte("v1")})
			require.NoError(t, err)

			type result struct {
				res []delivery.Enqueued
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := store.Enqueue(ctx,
					delivery.Message{ID: "other-dest", Destination: "crm", IdempotencyKey: "k", Payload: []byte("v1")},
					delivery.Message{ID: "second", Destination: "ats", IdempotencyKey: "k", Payload: []byte(tc.payload)})
				done <- result{res, err}
			}()
			require.Eventually(t, func() bool { // the second insert waits on the first's index entry
				var waiting int
				err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND strpos(query, $1) > 0`, schemaOf(t, store)+`"."outbox"`).Scan(&waiting)
				return err == nil && waiting > 0
			}, 10*time.Second, 5*time.Millisecond)
			require.NoError(t, tx.Commit(ctx))

			got := <-done
			if tc.conflict {
				require.ErrorIs(t, got.err, delivery.ErrConflict)
				_, err := store.Get(ctx, "other-dest")
				assert.ErrorIs(t, err, delivery.ErrNotFound, "the refused call stored nothing")
			} else {
				require.NoError(t, got.err)
				assert.False(t, got.res[0].Existing)
				assert.True(t, got.res[1].Existing)
				assert.Equal(t, "first", got.res[1].Record.ID)
				_, err := store.Get(ctx, "other-dest")
				assert.NoError(t, err)
			}
			_, err = store.Get(ctx, "second")
			assert.ErrorIs(t, err, delivery.ErrNotFound)
		})
	}
}
