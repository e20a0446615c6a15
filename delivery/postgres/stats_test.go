package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// seedSettled inserts n delivered records, every fourth of them (in
// updated_at order) discarded instead, on conn, and makes the server
// publish the table's row counts at once (they are otherwise flushed to
// the statistics a moment after the commit).
func seedSettled(t *testing.T, pool *pgxpool.Pool, store *postgres.Store, at time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	tbl := store.Name()
	_, err = conn.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, payload, created_at, state, is_head, next_attempt_at, updated_at, attempts)
SELECT 'done-' || g, nextval('`+tbl+`_seq'), 'x', $1, CASE WHEN g % 4 = 0 THEN 5 ELSE 3 END, false, $1,
	$1::timestamptz + g * interval '1 second', 1
FROM generate_series(1, $2::integer) AS g`, at, n)
	require.NoError(t, err)
	flushStats(t, conn)
}

// Past the exact limit, delivered and discarded records are estimated from
// the table's statistics; the live states stay exact. On a table this
// small the statistics are exact too, so the estimate must come out exact:
// the test checks the arithmetic, both before the table is first analyzed
// (the split comes from the oldest records) and after (from ANALYZE's
// sample).
func TestStatsEstimatesSettledRecordsPastTheExactLimit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return now })
	store.SetExactSettledMaxForTest(11) // the 12 oldest settled records: 3 discarded
	_, err := store.Enqueue(ctx,
		delivery.Message{ID: "p1", Payload: []byte("x")},
		delivery.Message{ID: "p2", Payload: []byte("x")},
		delivery.Message{ID: "p3", Payload: []byte("x")},
	)
	require.NoError(t, err)
	recs, err := store.Claim(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	seedSettled(t, pool, store, now.Add(-time.Hour), 40) // 30 delivered, 10 discarded

	check := func(when string) {
		t.Helper()
		st, err := store.Stats(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, 2, st.Count(delivery.StatePending), when)
		assert.EqualValues(t, 1, st.Count(delivery.StateInFlight), when)
		assert.EqualValues(t, 30, st.Count(delivery.StateDelivered), when)
		assert.EqualValues(t, 10, st.Count(delivery.StateDiscarded), when)
	}
	check("before ANALYZE")
	_, err = pool.Exec(ctx, `ANALYZE `+store.Name())
	require.NoError(t, err)
	check("after ANALYZE")

	// Without the collector's row count (reset here), pg_class.reltuples
	// from the last ANALYZE stands in.
	_, err = pool.Exec(ctx, `SELECT pg_stat_reset_single_table_counters($1::regclass)`, store.Name())
	require.NoError(t, err)
	check("from reltuples")
}

// With no statistics at all (never analyzed, counters reset), the
// estimate falls back to what the bounded exact count saw: never fewer.
func TestStatsEstimateNeverBelowWhatItSaw(t *testing.T) {
	st := statsWithoutCounters(t, 11)
	assert.EqualValues(t, 9, st.Count(delivery.StateDelivered), "12 seen, a quarter of them discarded")
	assert.EqualValues(t, 3, st.Count(delivery.StateDiscarded))
}

// Up to the exact limit every count is exact, whatever the statistics
// say.
func TestStatsCountsSettledRecordsExactlyUpToTheLimit(t *testing.T) {
	st := statsWithoutCounters(t, 40)
	assert.EqualValues(t, 30, st.Count(delivery.StateDelivered))
	assert.EqualValues(t, 10, st.Count(delivery.StateDiscarded))
}

// statsWithoutCounters returns the Stats of a fresh outbox, counting
// delivered and discarded records exactly up to exactMax, after
// seedSettled's 40 records (30 delivered, 10 discarded) with the table
// never analyzed and its statistics counters reset.
func statsWithoutCounters(t *testing.T, exactMax int) delivery.Stats {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return now })
	store.SetExactSettledMaxForTest(exactMax)
	seedSettled(t, pool, store, now.Add(-time.Hour), 40)
	_, err := pool.Exec(ctx, `SELECT pg_stat_reset_single_table_counters($1::regclass)`, store.Name())
	require.NoError(t, err)
	st, err := store.Stats(ctx)
	require.NoError(t, err)
	return st
}
