package postgres_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
)

// bulkMessages returns n unkeyed messages without IDs or idempotency keys
// (the batch COPY writes), over two destinations, with headers, creation
// times, correlation IDs and trace context on some of them.
func bulkMessages(n int, tag string) []delivery.Message {
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		m := delivery.Message{
			Destination: []string{"crm", "ats"}[i%2],
			Payload:     fmt.Appendf(nil, `{"%s":%d}`, tag, i),
		}
		if i%3 == 0 {
			m.Headers = map[string]string{"X-Row": fmt.Sprint(i), "Content-Type": "application/json"}
		}
		if i%5 == 0 {
			m.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 678_000, time.UTC)
		}
		if i%7 == 0 {
			m.CorrelationID = fmt.Sprintf("corr-%d", i)
			m.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			m.TraceState = "vendor=1"
		}
		msgs[i] = m
	}
	return msgs
}

// checkEnqueued checks that each result is a new pending record of its
// message, that Seq follows the messages' order, and that the store holds
// exactly what Enqueue returned.
func checkEnqueued(t *testing.T, store *postgres.Store, msgs []delivery.Message, res []delivery.Enqueued) {
	t.Helper()
	ctx := context.Background()
	require.Len(t, res, len(msgs))
	for i, e := range res {
		m, r := msgs[i], e.Record
		assert.False(t, e.Existing, "message %d", i)
		assert.NotEmpty(t, r.ID, "message %d", i)
		assert.Equal(t, delivery.StatePending, r.State, "message %d", i)
		assert.Equal(t, m.Destination, r.Destination, "message %d", i)
		assert.Equal(t, m.Payload, r.Payload, "message %d", i)
		assert.Equal(t, m.Headers, r.Headers, "message %d", i)
		if !m.CreatedAt.IsZero() {
			assert.True(t, m.CreatedAt.Equal(r.CreatedAt), "message %d: created %v, want %v", i, r.CreatedAt, m.CreatedAt)
		}
		if i > 0 {
			assert.Greater(t, r.Seq, res[i-1].Record.Seq, "message %d: queue order is the messages' order", i)
		}
		got, err := store.Get(ctx, r.ID)
		require.NoError(t, err)
		assert.Equal(t, r.Seq, got.Seq, "message %d", i)
		assert.Equal(t, delivery.StatePending, got.State, "message %d", i)
		assert.Equal(t, m.Payload, got.Payload, "message %d", i)
		assert.Equal(t, m.Headers, got.Headers, "message %d", i)
		assert.Equal(t, m.CorrelationID, got.CorrelationID, "message %d", i)
		assert.Equal(t, m.TraceParent, got.TraceParent, "message %d", i)
		assert.Equal(t, m.TraceState, got.TraceState, "message %d", i)
		assert.Empty(t, got.IdempotencyKey, "message %d", i)
		assert.Empty(t, got.Key, "message %d", i)
		assert.Zero(t, got.Attempts, "message %d", i)
		assert.True(t, r.CreatedAt.Equal(got.CreatedAt), "message %d: created %v, stored %v", i, r.CreatedAt, got.CreatedAt)
		assert.True(t, r.NextAttemptAt.Equal(got.NextAttemptAt), "message %d: due %v, stored %v", i, r.NextAttemptAt, got.NextAttemptAt)
		assert.True(t, r.UpdatedAt.Equal(got.UpdatedAt), "message %d: updated %v, stored %v", i, r.UpdatedAt, got.UpdatedAt)
		assert.True(t, got.UpdatedAt.Equal(got.NextAttemptAt), "message %d: a new record is updated when it is due", i)
	}
}

// storedRows returns every column of every record of store, but id and
// seq, as JSON objects in queue order.
func storedRows(t *testing.T, pool *pgxpool.Pool, store *postgres.Store) []map[string]any {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT to_jsonb(t) - 'id' - 'seq' FROM `+quote(schemaOf(t, store))+`.outbox t ORDER BY seq`)
	require.NoError(t, err)
	var out []map[string]any
	for rows.Next() {
		var row map[string]any
		require.NoError(t, rows.Scan(&row))
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

// The same batch, copied into one store and inserted into another, gives
// the same rows, column by column, and the same results, on the store's
// clock and on the database's (whose times differ between the two
// enqueues, so they are compared for shape only).
func TestBulkEnqueueCopyWritesWhatInsertWrites(t *testing.T) {
	fixed := time.Date(2026, 12, 6, 10, 0, 0, 123_456_789, time.UTC)
	for name, now := range map[string]func() time.Time{"store clock": func() time.Time { return fixed }, "database clock": nil} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			msgs := func() []delivery.Message {
				m := bulkMessages(100, "same")
				m[1].CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 678_999, time.FixedZone("UTC+3", 3*3600)) // below a microsecond, not UTC
				m[2].Headers = map[string]string{}                                                        // empty, not nil
				m[4].Headers = map[string]string{"X-Quote": "a\"b\\c é <>&"}
				return m
			}
			inserting, pool := newStore(t, now)
			inserting.SetCopyMinForTest(math.MaxInt)
			copying, _ := newStore(t, now)
			inserted, err := inserting.Enqueue(ctx, msgs()...)
			require.NoError(t, err)
			copied, err := copying.Enqueue(ctx, msgs()...)
			require.NoError(t, err)
			require.Zero(t, inserting.CopiedBatchesForTest())
			require.EqualValues(t, 1, copying.CopiedBatchesForTest())

			want, got := storedRows(t, pool, inserting), storedRows(t, pool, copying)
			require.Len(t, got, len(want))
			for i := range want {
				if now == nil {
					for _, col := range []string{"created_at", "next_attempt_at", "updated_at"} {
						if !msgs()[i].CreatedAt.IsZero() && col == "created_at" {
							continue // the caller's: compared below
						}
						delete(want[i], col)
						delete(got[i], col)
					}
				}
				assert.Equal(t, want[i], got[i], "row %d", i)
			}
			for i := range inserted {
				a, b := inserted[i], copied[i]
				a.Record.ID, a.Record.Seq, b.Record.ID, b.Record.Seq = "", 0, "", 0
				if now == nil {
					if msgs()[i].CreatedAt.IsZero() {
						a.Record.CreatedAt, b.Record.CreatedAt = time.Time{}, time.Time{}
					}
					a.Record.NextAttemptAt, b.Record.NextAttemptAt = time.Time{}, time.Time{}
					a.Record.UpdatedAt, b.Record.UpdatedAt = time.Time{}, time.Time{}
				}
				assert.Equal(t, a, b, "result %d", i)
			}
		})
	}
}

// EnqueueSQLTx inserts a bulk batch: database/sql cannot COPY.
func TestBulkEnqueueSQLTxInserts(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, nil)
	db := openSQL(t, "pgx", testenv.PostgresURL(t))
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	msgs := bulkMessages(postgres.CopyMinForTest, "sql")
	res, err := store.EnqueueSQLTx(ctx, tx, msgs...)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	assert.Zero(t, store.CopiedBatchesForTest())
	checkEnqueued(t, store, msgs, res)
}

// A large batch of new unkeyed messages is written with COPY and gives the
// same records, results, wake-up and destinations as the INSERT that
// smaller batches take; the records are claimable at once, in order.
func TestBulkEnqueueWithCopy(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 10, 0, 0, 123_456_000, time.UTC)
	store, _ := newStore(t, func() time.Time { return now })
	wake := store.Notify()
	waitSignal(t, wake) // the listener's first signal after connecting

	small := bulkMessages(postgres.CopyMinForTest-1, "insert")
	res, err := store.Enqueue(ctx, small...)
	require.NoError(t, err)
	require.Zero(t, store.CopiedBatchesForTest(), "a batch under CopyMin is inserted")
	checkEnqueued(t, store, small, res)
	waitSignal(t, wake)

	big := bulkMessages(300, "copy")
	res2, err := store.Enqueue(ctx, big...)
	require.NoError(t, err)
	require.EqualValues(t, 1, store.CopiedBatchesForTest(), "a batch of %d new unkeyed messages is copied", len(big))
	checkEnqueued(t, store, big, res2)
	waitSignal(t, wake) // COPY fires the insert trigger like an INSERT
	assert.Greater(t, res2[0].Record.Seq, res[len(res)-1].Record.Seq)
	for i, e := range res2 {
		r := e.Record
		want := now
		if !big[i].CreatedAt.IsZero() {
			want = big[i].CreatedAt
		}
		assert.True(t, want.Equal(r.CreatedAt), "message %d: created %v, want %v (the store's clock)", i, r.CreatedAt, want)
		assert.True(t, now.Equal(r.NextAttemptAt), "message %d: due now", i)
		assert.True(t, now.Equal(r.UpdatedAt), "message %d", i)
	}

	// Both destinations have their rows, and every record is claimable:
	// each heads only itself.
	ds, err := store.Destinations(ctx)
	require.NoError(t, err)
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	assert.Subset(t, names, []string{"crm", "ats"})
	total := len(small) + len(big)
	recs, err := store.Claim(ctx, total+10, time.Minute)
	require.NoError(t, err)
	assert.Len(t, recs, total, "every record, copied or inserted, is claimable")
	last := map[string]int64{}
	for _, r := range recs {
		assert.Greater(t, r.Seq, last[r.Destination], "claimed in queue order within %s", r.Destination)
		last[r.Destination] = r.Seq
	}
}

// With the database's clock, copied records take the transaction's now,
// as inserted ones do.
func TestBulkEnqueueWithCopyOnTheDatabaseClock(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	var before time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT now()`).Scan(&before))
	msgs := bulkMessages(postgres.CopyMinForTest, "db-clock")
	res, err := store.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	require.EqualValues(t, 1, store.CopiedBatchesForTest())
	checkEnqueued(t, store, msgs, res)
	due := res[0].Record.NextAttemptAt
	assert.False(t, due.Before(before), "due %v, before the enqueue %v", due, before)
	for i, e := range res {
		r := e.Record
		assert.True(t, due.Equal(r.NextAttemptAt), "message %d: one statement now for the batch", i)
		if msgs[i].CreatedAt.IsZero() {
			assert.True(t, due.Equal(r.CreatedAt), "message %d: created when enqueued", i)
		}
	}
}

// A batch that needs a lookup or orders a key is inserted, however large:
// an ID from the caller, an IdempotencyKey or a Key anywhere in it.
func TestBulkEnqueueInsertsWhatNeedsALookup(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, nil)
	for name, change := range map[string]func(*delivery.Message){
		"caller ID":       func(m *delivery.Message) { m.ID = "given-1" },
		"idempotency key": func(m *delivery.Message) { m.IdempotencyKey = "idem-1" },
		"ordering key":    func(m *delivery.Message) { m.Key = "order-1" },
	} {
		t.Run(name, func(t *testing.T) {
			msgs := bulkMessages(2*postgres.CopyMinForTest, name)
			change(&msgs[len(msgs)/2])
			res, err := store.Enqueue(ctx, msgs...)
			require.NoError(t, err)
			assert.Zero(t, store.CopiedBatchesForTest(), "inserted, not copied")
			assert.Len(t, res, len(msgs))
			// Enqueued again, the message that needed the lookup is found.
			again, err := store.Enqueue(ctx, msgs[len(msgs)/2])
			require.NoError(t, err)
			if msgs[len(msgs)/2].ID != "" || msgs[len(msgs)/2].IdempotencyKey != "" {
				assert.True(t, again[0].Existing)
				assert.Equal(t, res[len(msgs)/2].Record.ID, again[0].Record.ID)
			}
		})
	}
}

// Copied inside a caller's transaction, the records roll back with it.
func TestBulkEnqueueTxWithCopyRollsBack(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	wake := store.Notify()
	waitSignal(t, wake) // the listener's first signal after connecting
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	res, err := store.EnqueueTx(ctx, tx, bulkMessages(postgres.CopyMinForTest, "tx")...)
	require.NoError(t, err)
	require.EqualValues(t, 1, store.CopiedBatchesForTest())
	require.NoError(t, tx.Rollback(ctx))
	for _, e := range res {
		_, err := store.Get(ctx, e.Record.ID)
		assert.ErrorIs(t, err, delivery.ErrNotFound)
	}
	assertNoSignal(t, wake, "a rolled-back bulk enqueue wakes nobody")
	recs, err := store.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, recs)

	// Committed, they are there.
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	res, err = store.EnqueueTx(ctx, tx, bulkMessages(postgres.CopyMinForTest, "tx")...)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	waitSignal(t, wake)
	require.EqualValues(t, 2, store.CopiedBatchesForTest())
	checkEnqueued(t, store, bulkMessages(postgres.CopyMinForTest, "tx"), res)
}
