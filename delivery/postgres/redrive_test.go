package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// seedDead inserts dead records dead-00001 .. dead-<n> in that Seq order,
// as the store's dead-letter leaves them: even-numbered ones keyed by one
// of ten keys, the others unkeyed; the first crm of them for destination
// "crm", the rest for "ats".
func seedDead(t *testing.T, pool *pgxpool.Pool, store *postgres.Store, at time.Time, n, crm int) {
	t.Helper()
	tbl := store.Name()
	_, err := pool.Exec(context.Background(), `INSERT INTO `+tbl+` (id, seq, key, destination, payload, created_at, state, is_head,
	next_attempt_at, updated_at, attempts, last_class, last_error)
SELECT 'dead-' || lpad(g::text, 5, '0'), nextval('`+tbl+`_seq'), CASE WHEN g % 2 = 0 THEN 'key-' || (g % 10) ELSE '' END,
	CASE WHEN g <= $3 THEN 'crm' ELSE 'ats' END, 'x', $1, 4, false, $1, $1, 3, 3, 'gone'
FROM generate_series(1, $2::integer) AS g ORDER BY g`, at, n, crm)
	require.NoError(t, err)
}

// transactions counts the distinct transactions that last wrote the
// records matching where: rows a transaction updated share its xmin.
func transactions(t *testing.T, pool *pgxpool.Pool, store *postgres.Store, where string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(DISTINCT xmin::text) FROM `+store.Name()+` WHERE `+where).Scan(&n))
	return n
}

// More matching records than a batch: RedriveMatching moves them all, in
// transactions of at most 1000 records, keeps their order, makes exactly
// one head per (destination, key) (the live record already waiting stays
// head), and counts them into their keys.
func TestRedriveMatchingInBatches(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return now })
	tbl := store.Name()
	_, err := store.Enqueue(ctx, delivery.Message{ID: "live-0", Key: "key-0", Destination: "crm", Payload: []byte("x")})
	require.NoError(t, err)
	seedDead(t, pool, store, now.Add(-time.Hour), 3000, 2500)

	n, err := store.RedriveMatching(ctx, delivery.Filter{Destination: "crm"})
	require.NoError(t, err)
	assert.Equal(t, 2500, n)
	assert.Equal(t, 3, transactions(t, pool, store, `destination = 'crm' AND id LIKE 'dead-%'`), "1000 + 1000 + 500, each batch its own transaction")

	st, err := store.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 500, st.Count(delivery.StateDead), "records for other destinations stay dead")
	assert.EqualValues(t, 2501, st.Count(delivery.StatePending))

	rows, err := pool.Query(ctx, `SELECT id FROM `+tbl+` WHERE destination = 'crm' AND id LIKE 'dead-%' ORDER BY seq`)
	require.NoError(t, err)
	order, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, order, 2500)
	for i, id := range order {
		require.Equal(t, fmt.Sprintf("dead-%05d", i+1), id, "redriven records keep their relative order")
	}
	var notRedriven int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl+` WHERE destination = 'crm' AND id LIKE 'dead-%' AND redriven_at IS DISTINCT FROM $1`, now).Scan(&notRedriven))
	assert.Zero(t, notRedriven, "every redriven record has RedrivenAt")

	// Per key: exactly one head, the lowest Seq of the key's live records
	// (live-0 for key-0), and the key's live count matches.
	rows, err = pool.Query(ctx, `SELECT r.key, count(*) FILTER (WHERE r.is_head), (array_agg(r.id ORDER BY r.seq))[1],
	coalesce((array_agg(r.id) FILTER (WHERE r.is_head))[1], ''), count(*), coalesce(max(k.live), -1)
FROM `+tbl+` r LEFT JOIN `+tbl+`_keys k ON k.destination = r.destination AND k.key = r.key
WHERE r.state IN (1, 2) AND r.key <> '' GROUP BY r.destination, r.key ORDER BY r.destination, r.key`)
	require.NoError(t, err)
	keys := 0
	for rows.Next() {
		var key, first, head string
		var heads, live, counted int
		require.NoError(t, rows.Scan(&key, &heads, &first, &head, &live, &counted))
		keys++
		assert.Equal(t, 1, heads, "key %s has one head", key)
		assert.Equal(t, first, head, "key %s: its lowest-Seq live record is its head", key)
		assert.Equal(t, live, counted, "key %s: live count", key)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 5, keys, "key-0, key-2, ... key-8")
	var head string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM `+tbl+` WHERE key = 'key-0' AND is_head`).Scan(&head))
	assert.Equal(t, "live-0", head, "the record already waiting stays ahead of redriven ones")
	var unkeyedNotHead int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+tbl+` WHERE state = 1 AND key = '' AND NOT is_head`).Scan(&unkeyedNotHead))
	assert.Zero(t, unkeyedNotHead)

	n, err = store.RedriveMatching(ctx, delivery.Filter{Destination: "crm"})
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to move")
}

// A record another transaction holds locked is skipped, not waited for;
// the rest move in batches, and the skipped one moves on a later call.
func TestRedriveMatchingSkipsLockedRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a wait for the lock fails the test instead of hanging it
	defer cancel()
	now := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return now })
	store.SetRedriveBatchForTest(4)
	seedDead(t, pool, store, now.Add(-time.Hour), 10, 10)

	holder, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback(context.Background()) }()
	_, err = holder.Exec(ctx, `SELECT 1 FROM `+store.Name()+` WHERE id = 'dead-00003' FOR UPDATE`)
	require.NoError(t, err)

	n, err := store.RedriveMatching(ctx, delivery.Filter{})
	require.NoError(t, err)
	assert.Equal(t, 9, n)
	assert.Equal(t, 3, transactions(t, pool, store, `state = 1`), "batches of 4, 4 and 1")
	r, err := store.Get(ctx, "dead-00003")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDead, r.State, "the locked record was skipped")

	require.NoError(t, holder.Rollback(ctx))
	n, err = store.RedriveMatching(ctx, delivery.Filter{})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	r, err = store.Get(ctx, "dead-00003")
	require.NoError(t, err)
	assert.Equal(t, delivery.StatePending, r.State)
}
