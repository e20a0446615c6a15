package postgres_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/postgres"
)

// largeEnv opts in to the tests and benchmarks with a 1,000,000-row
// backlog, which take minutes: OUTBOUND_BENCH_LARGE=1.
const largeEnv = "OUTBOUND_BENCH_LARGE"

func large() bool { ok, _ := strconv.ParseBool(os.Getenv(largeEnv)); return ok }

// hotKeys is how many keys the keyed half of a seeded backlog sits behind.
const hotKeys = 3

// seedBacklog fills store's table, with one INSERT ... SELECT
// generate_series per kind of row, with pending records due at base and
// earlier, as the store's own writes would leave them:
//
//   - pending/2 records due in the past, each its own head: every other
//     one unkeyed, the rest each the only record of its own key (like an
//     order id);
//   - pending/2 records behind hotKeys keys whose heads wait to retry an
//     hour after base: none of them is claimable, and a claim that looked
//     at them would slow down with the backlog;
//   - delivered records retained (history), not claimable either.
//
// It then VACUUMs and ANALYZEs the tables, as autovacuum would have done to
// a backlog that built up over time, so the planner sees the real
// distribution and reads do not pay for setting hint bits on a million
// fresh rows.
func seedBacklog(t testing.TB, pool *pgxpool.Pool, store *postgres.Store, base time.Time, pending, delivered int) {
	t.Helper()
	ctx := context.Background()
	tbl := store.Name()
	seq := "'" + tbl + "_seq'"
	// One connection for every statement, so the statistics flush below
	// covers all the inserts.
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	due, keyed := pending/2, pending-pending/2
	// Unkeyed, due: next_attempt_at spread over the hour before base.
	_, err = conn.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, key, payload, created_at, state, is_head, next_attempt_at, updated_at)
SELECT 'u-' || g, nextval(`+seq+`), CASE WHEN g % 2 = 0 THEN 'c-' || g ELSE '' END, '\x7b7d'::bytea, $1::timestamptz - interval '1 hour',
	1, true, $1::timestamptz - (g % 3600000) * interval '1 millisecond', $1::timestamptz - interval '1 hour'
FROM generate_series(1, $2::integer) AS g`, base, due)
	require.NoError(t, err)
	// Keyed, blocked behind hotKeys heads that wait to retry.
	_, err = conn.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, key, payload, created_at, state, is_head, next_attempt_at, updated_at, attempts)
SELECT 'k-' || g, nextval(`+seq+`), 'hot-' || (g % $3::integer), '\x7b7d'::bytea, $1::timestamptz - interval '2 hours',
	1, g <= $3::integer,
	CASE WHEN g <= $3::integer THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - interval '2 hours' END,
	$1::timestamptz - interval '2 hours', CASE WHEN g <= $3::integer THEN 1 ELSE 0 END
FROM generate_series(1, $2::integer) AS g`, base, keyed, hotKeys)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO `+tbl+`_keys (key, live)
SELECT 'hot-' || (g % $2::integer), count(*) FROM generate_series(1, $1::integer) AS g GROUP BY 1
UNION ALL
SELECT 'c-' || g, 1 FROM generate_series(2, $3::integer, 2) AS g`, keyed, hotKeys, due)
	require.NoError(t, err)
	// Delivered history.
	_, err = conn.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, key, payload, created_at, state, is_head, next_attempt_at, updated_at, attempts)
SELECT 'd-' || g, nextval(`+seq+`), 'done-' || (g % 1000), '\x7b7d'::bytea, $1::timestamptz - interval '1 day',
	3, false, $1::timestamptz - interval '1 day', $1::timestamptz - interval '1 day' + g * interval '1 millisecond', 1
FROM generate_series(1, $2::integer) AS g`, base, delivered)
	require.NoError(t, err)
	// The statistics this backend keeps of its inserts must reach the
	// server before VACUUM sets the live-row count: flushed after it, they
	// would be counted again, and Stats' estimate of the delivered history
	// (which reads that count) would be off by up to the whole insert.
	// PostgreSQL 15 and later flush lazily, at most once a second; force it
	// (flushStats).
	flushStats(t, conn)
	_, err = conn.Exec(ctx, `VACUUM (ANALYZE) `+tbl)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `VACUUM (ANALYZE) `+tbl+`_keys`)
	require.NoError(t, err)
}

// flushStats makes conn's backend publish the statistics it keeps of its
// writes (row counts) as this call returns: PostgreSQL 15 and later flush
// them lazily, at most once a second, unless forced; the flush happens as
// the connection goes idle after the statement.
func flushStats(t testing.TB, conn *pgxpool.Conn) {
	t.Helper()
	ctx := context.Background()
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version))
	if version >= 150000 {
		_, err := conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		require.NoError(t, err)
	}
}
