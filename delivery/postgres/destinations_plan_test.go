package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// seedDestinations fills store's table with pending records spread over
// dests destinations (dest-0 .. dest-<dests-1>), as the store's own writes
// would leave them: per destination, half due in the past (unkeyed, or
// the only record of their key) and half blocked behind a key whose head
// waits to retry an hour after base. Every tenth destination has a
// MaxInFlight of 2 with one unexpired lease, every tenth (offset 5) is
// paused for an hour, and delivered history is retained. It VACUUMs and
// ANALYZEs the tables, as autovacuum would have.
func seedDestinations(t *testing.T, store interface{ Name() string }, pending, dests, delivered int, base time.Time) {
	t.Helper()
	ctx := context.Background()
	pool := newPool(t)
	tbl := store.Name()
	seq := "'" + tbl + "_seq'"
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, sql := range []string{
		// Due, each its own head.
		`INSERT INTO ` + tbl + ` (id, seq, key, destination, payload, created_at, state, is_head, next_attempt_at, updated_at)
SELECT 'u-' || g, nextval(` + seq + `), CASE WHEN g % 2 = 0 THEN 'c-' || g ELSE '' END, 'dest-' || (g % $3::integer),
	'\x7b7d'::bytea, $1::timestamptz - interval '1 hour', 1, true,
	$1::timestamptz - (g % 3600000) * interval '1 millisecond', $1::timestamptz - interval '1 hour'
FROM generate_series(1, $2::integer / 2) AS g`,
		// Blocked behind a key per destination whose head waits.
		`INSERT INTO ` + tbl + ` (id, seq, key, destination, payload, created_at, state, is_head, next_attempt_at, updated_at)
SELECT 'k-' || g, nextval(` + seq + `), 'hot', 'dest-' || (g % $3::integer), '\x7b7d'::bytea,
	$1::timestamptz - interval '2 hours', 1, g <= $3::integer,
	CASE WHEN g <= $3::integer THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - interval '2 hours' END,
	$1::timestamptz - interval '2 hours'
FROM generate_series(1, $2::integer / 2) AS g`,
		// One unexpired lease at every tenth destination.
		`INSERT INTO ` + tbl + ` (id, seq, destination, payload, created_at, state, is_head, next_attempt_at, updated_at, lease_token, lease_expires_at)
SELECT 'l-' || g, nextval(` + seq + `), 'dest-' || g, '\x7b7d'::bytea, $1, 2, true, $1, $1, 'tok', $1::timestamptz + interval '1 minute'
FROM generate_series(0, $3::integer - 1, 10) AS g WHERE $2::integer > 0`,
		`INSERT INTO ` + tbl + `_keys (destination, key, live)
SELECT 'dest-' || (g % $3::integer), 'hot', count(*) FROM generate_series(1, $2::integer / 2) AS g GROUP BY 1
UNION ALL
SELECT 'dest-' || (g % $3::integer), 'c-' || g, 1 FROM generate_series(2, $2::integer / 2, 2) AS g
UNION ALL SELECT 'x', 'x', 0 WHERE $1::timestamptz IS NULL`,
		`INSERT INTO ` + tbl + `_destinations (name, max_in_flight, paused_until, paused_since, pauses, cause, changed_at)
SELECT 'dest-' || g, CASE WHEN g % 10 = 0 THEN 2 ELSE 0 END,
	CASE WHEN g % 10 = 5 THEN $1::timestamptz + interval '1 hour' END,
	CASE WHEN g % 10 = 5 THEN $1::timestamptz END, CASE WHEN g % 10 = 5 THEN 1 ELSE 0 END,
	CASE WHEN g % 10 = 5 THEN 'http_429' ELSE '' END, $1
FROM generate_series(0, $3::integer - 1) AS g WHERE $2::integer > 0`,
		`INSERT INTO ` + tbl + ` (id, seq, destination, payload, created_at, state, is_head, next_attempt_at, updated_at, attempts)
SELECT 'd-' || g, nextval(` + seq + `), 'dest-' || (g % $3::integer), '\x7b7d'::bytea, $1::timestamptz - interval '1 day',
	3, false, $1::timestamptz - interval '1 day', $1::timestamptz - interval '1 day' + g * interval '1 millisecond', 1
FROM generate_series(1, $2::integer / 2) AS g`,
	} {
		_, err := conn.Exec(ctx, sql, base, pending, dests)
		require.NoError(t, err)
	}
	_ = delivered
	flushStats(t, conn)
	for _, suffix := range []string{"", "_keys", "_destinations"} {
		_, err = conn.Exec(ctx, `VACUUM (ANALYZE) `+tbl+suffix)
		require.NoError(t, err)
	}
}

// With 100,000 pending records over 1,000 destinations (a tenth of them
// with a MaxInFlight, a tenth paused), both statements of a claim find
// the destinations with due work and their records through indexes: no
// scan of the records, whatever the clock. A claim of 100 is spread over
// 100 destinations, none paused, none over its limit.
func TestClaimPlanAcrossDestinations(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return base })
	const pending, dests = 100_000, 1_000
	seedDestinations(t, store, pending, dests, pending/2, base)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	for _, now := range []any{base, nil} {
		plan := explain(t, tx, store.LockDestinationsSQLForTest(), now, 100, "token", []string{})
		t.Logf("lock destinations, claim of 100, %d pending over %d destinations (clock %v):\n%s", pending, dests, now, plan)
		assert.Contains(t, plan, "outbox_dest_claim_idx", "due heads from the claim index")
		assert.Contains(t, plan, "outbox_dest_lease_idx", "leases counted from the lease index")
		assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "no scan of the records")
		plan = explain(t, tx, store.ClaimSQLForTest(), now, 100, "token", time.Minute, []string{})
		t.Logf("claim of 100, %d pending over %d destinations (clock %v):\n%s", pending, dests, now, plan)
		assert.Contains(t, plan, "Index Scan using outbox_dest_claim_idx", "pending heads from the claim index")
		assert.Contains(t, plan, "outbox_dest_lease_idx", "expired leases from the lease index")
		assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "no scan of the records")
	}
	plan := explain(t, tx, store.NextDueSQLForTest(), base)
	t.Logf("next due, %d pending over %d destinations:\n%s", pending, dests, plan)
	assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "no scan of the records")
	require.NoError(t, tx.Rollback(ctx))

	recs, err := store.Claim(ctx, 100, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 100)
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.Destination]++
	}
	assert.Len(t, seen, 100, "one record per destination per round")
	ds, err := store.Destinations(ctx)
	require.NoError(t, err)
	require.Len(t, ds, dests)
	for _, d := range ds {
		switch {
		case d.Status == delivery.DestinationPaused:
			assert.Zero(t, seen[d.Name], "%s is paused", d.Name)
		case d.MaxInFlight > 0:
			assert.LessOrEqual(t, d.InFlight, int64(d.MaxInFlight), "%s within its limit", d.Name)
		}
	}
}
