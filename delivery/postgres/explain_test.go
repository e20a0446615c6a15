package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// The claim and the promotion of a key's next head use their partial
// indexes and touch a handful of rows, whatever the size of the backlog
// behind busy keys and of the delivered history. 100,000 pending rows by
// default; 1,000,000 with OUTBOUND_BENCH_LARGE=1.
func TestClaimPlanUsesIndexes(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return base })
	pending, delivered := 100_000, 50_000
	if large() {
		pending, delivered = 1_000_000, 500_000
	}
	seedBacklog(t, pool, store, base, pending, delivered)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	plan := explain(t, tx, store.ClaimSQLForTest(), base, 10, "token", time.Minute, []string{})
	t.Logf("claim of 10 with %d pending (%d behind %d busy keys), %d delivered:\n%s", pending, pending/2, hotKeys, delivered, plan)
	assert.Contains(t, plan, "Index Scan using outbox_dest_claim_idx", "pending heads come from the claim index")
	assert.Contains(t, plan, "Index Scan using outbox_dest_lease_idx", "expired leases come from the lease index")
	assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "no scan of the records")
	// With the database's clock (Config.Now unset) the statement's now is
	// NULL and it reads now(): the same indexes.
	plan = explain(t, tx, store.ClaimSQLForTest(), nil, 10, "token", time.Minute, []string{})
	assert.Contains(t, plan, "Index Scan using outbox_dest_claim_idx", "database clock: pending heads come from the claim index")
	assert.Contains(t, plan, "Index Scan using outbox_dest_lease_idx", "database clock: expired leases come from the lease index")
	assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "database clock: no scan of the records")
	require.NoError(t, tx.Rollback(ctx))

	// Settling the head of a busy key promotes its next record through the
	// live-key index: one index probe, not a scan of the key's backlog.
	_, err = pool.Exec(ctx, `UPDATE `+store.Name()+` SET next_attempt_at = $1 WHERE id = 'k-1'`, base.Add(-48*time.Hour))
	require.NoError(t, err)
	recs, err := store.Claim(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "k-1", recs[0].ID, "the head, due again, is the oldest-due record")
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)

	// NextDue reads, per destination, the first entry of the claim index,
	// and the first entry of a lease index: index-only lookups in one
	// statement.
	plan = explain(t, tx, store.NextDueSQLForTest(), base)
	t.Logf("next due with %d pending, one in flight, %d delivered:\n%s", pending, delivered, plan)
	assert.Contains(t, plan, "Index Only Scan using outbox_dest_claim_idx", "the earliest pending head from the claim index")
	assert.Contains(t, plan, "Index Only Scan using outbox_dest_lease_idx", "the earliest lease expiry from the lease index")
	assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "no scan of the records")
	due, ok, err := store.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	want := base.Add(-time.Duration(pending/2) * time.Millisecond) // seedBacklog's longest-due head
	assert.True(t, due.Equal(want), "NextDue %v, want %v", due, want)

	// Stats counts the live states through their partial indexes, takes
	// both ages from the same scans, and reads at most 10,001 entries
	// of the purge index for the delivered history, which it estimates.
	_, err = tx.Exec(ctx, `SET LOCAL max_parallel_workers_per_gather = 0`) // as Stats runs it
	require.NoError(t, err)
	plan = explain(t, tx, store.StatsSQLForTest(), base, schemaOf(t, store), "outbox", store.Name())
	t.Logf("stats with %d pending, one in flight, %d delivered:\n%s", pending, delivered, plan)
	for _, idx := range []string{"outbox_pending_seq_idx", "outbox_dead_idx", "outbox_purge_idx"} {
		assert.Regexp(t, "Index Only Scan using "+idx, plan, "stats reads %s only", idx)
	}
	assert.Regexp(t, "Index Scan using outbox_dest_lease_idx", plan, "in-flight rows found through the lease index")
	assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "stats never scans the records")
	assert.Regexp(t, `Index Scan using outbox_purge_idx on outbox \w+ \(never executed\)`, plan,
		"past the exact limit, with statistics, the delivered rows are not read to split them by state")
	st, err := store.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, pending-1, st.Count(delivery.StatePending), "exact")
	assert.EqualValues(t, 1, st.Count(delivery.StateInFlight), "exact")
	// ANALYZE samples 30,000 rows: a third of them delivered gives the
	// estimate a standard error near 0.8%, so 2% failed about once in a
	// hundred runs; 5% is six standard errors and still catches a count
	// that is not this state's.
	assert.InEpsilon(t, delivered, st.Count(delivery.StateDelivered), 0.05, "estimated from the table's statistics")
	assert.Equal(t, 2*time.Hour, st.OldestPending, "the keyed backlog was created two hours before base")
	assert.Equal(t, 2*time.Hour, st.OldestDue, "records blocked behind busy keys have been due for two hours")

	plan = explain(t, tx, store.SettleSQLForTest(), recs[0].ID, recs[0].LeaseToken, int16(delivery.StateDelivered),
		base, int64(0), int32(200), int16(classify.ClassOK), "", false, base, "",
		string(delivery.EncodeAttempt(delivery.Attempt{StartedAt: base, Status: 200})),
		int64(delivery.DefaultHistoryAttempts), int64(delivery.DefaultHistoryBytes))
	plan += explain(t, tx, store.PromoteSQLForTest(), recs[0].ID)
	t.Logf("settle and promote in a key with %d records behind it:\n%s", pending/2/hotKeys, plan)
	assert.Contains(t, plan, "_live_key_idx")
	assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "no scan of the records")
	assert.NotContains(t, plan, "Seq Scan on outbox_keys", "keys are found by primary key")
	var head string
	require.NoError(t, tx.QueryRow(ctx, `SELECT id FROM `+store.Name()+` WHERE key = 'hot-1' AND is_head AND state = 1`).Scan(&head))
	assert.Equal(t, "k-4", head, "the next record of the key became its head")
	require.NoError(t, tx.Rollback(ctx))

	// A flush's terminal settles, as one statement over arrays, and their
	// promotion: each record found by its primary key, with a custom plan
	// and with the generic plan a prepared statement caches.
	ids := []string{recs[0].ID, "missing"}
	when := []*time.Time{&base, nil}
	settleArgs := []any{ids, []string{recs[0].LeaseToken, "t"},
		[]int16{int16(delivery.StateDelivered), int16(delivery.StateDead)}, when, []int64{0, 0}, []int32{200, 400},
		[]int16{int16(classify.ClassOK), int16(classify.ClassPermanent)}, []string{"", "bad"}, []bool{false, false}, when,
		[]string{"", ""}, []string{`{"status":200}`, `{"status":400}`},
		int64(delivery.DefaultHistoryAttempts), int64(delivery.DefaultHistoryBytes)}
	for _, generic := range []bool{false, true} {
		tx, err = pool.Begin(ctx)
		require.NoError(t, err)
		settleSQL, promoteSQL := store.SettleManySQLForTest(), store.PromoteManySQLForTest()
		args, promoteArgs := settleArgs, []any{ids}
		if generic {
			// EXECUTE takes no parameters of its own: pgx puts the values
			// in the statement's text.
			args = append([]any{pgx.QueryExecModeSimpleProtocol}, settleArgs...)
			promoteArgs = []any{pgx.QueryExecModeSimpleProtocol, ids}
			_, err = tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `PREPARE settle_many AS `+settleSQL)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `PREPARE promote_many AS `+promoteSQL)
			require.NoError(t, err)
			settleSQL = `EXECUTE settle_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
			promoteSQL = `EXECUTE promote_many($1)`
		}
		plan = explain(t, tx, settleSQL, args...)
		assert.Contains(t, plan, "Index Scan using outbox_pkey on outbox t", "generic %v: settled records found by primary key", generic)
		assert.NotContains(t, plan, "outbox_dest_lease_idx on outbox t", "generic %v: not by testing every in-flight record", generic)
		plan += explain(t, tx, promoteSQL, promoteArgs...)
		t.Logf("settle and promote of two records as one statement each (generic plan %v):\n%s", generic, plan)
		assert.Contains(t, plan, "_live_key_idx", "generic %v", generic)
		assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "generic %v: no scan of the records", generic)
		assert.NotContains(t, plan, "Seq Scan on outbox_keys", "generic %v: keys are found by primary key", generic)
		require.NoError(t, tx.QueryRow(ctx, `SELECT id FROM `+store.Name()+` WHERE key = 'hot-1' AND is_head AND state = 1`).Scan(&head))
		assert.Equal(t, "k-4", head, "generic %v: the next record of the key became its head", generic)
		require.NoError(t, tx.Rollback(ctx))
	}
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of sql in tx and returns the plan.
func explain(t *testing.T, tx pgx.Tx, sql string, args ...any) string {
	t.Helper()
	rows, err := tx.Query(context.Background(), `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) `+sql, args...)
	require.NoError(t, err)
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return strings.Join(lines, "\n") + "\n"
}
