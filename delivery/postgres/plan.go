package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outbound-go/outbound/delivery"
)

// Statements whose best plan depends on how big the outbox is are planned
// for their actual parameters and the table as it is. pgx prepares
// statements once per connection, and after five executions PostgreSQL may
// settle on a generic plan, made while the outbox was small, that stays
// cached as the table grows until the next ANALYZE: for the lookup of a
// batch's 100 ids, a sequential scan that costs 30ms at 30,000 rows. So
// the enqueue lookup, List and Purge run with plan_cache_mode =
// force_custom_plan, set locally to the transaction (or the pipelined batch)
// and put back right after, so a caller's transaction keeps its own
// setting. The hot paths, Claim and the settles, keep their cached plans:
// they are driven by primary-key equality and by partial indexes in ORDER
// BY ... LIMIT order, which no table size makes a scan (see
// TestNoSequentialScansAfterGrowth), and planning them on every call would
// cost a third of their throughput.

// customPlans forces custom plans until the end of the current transaction
// (for a pipelined batch without BEGIN: until the end of the batch).
const customPlans = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`

// serialPlans turns parallel query off until the end of the pipelined
// batch it opens: for Stats, which a parallel plan would make cost more CPU
// in all for a little less latency.
const serialPlans = `SELECT set_config('max_parallel_workers_per_gather', '0', true)`

// noJIT turns JIT compilation off until the end of the pipelined batch it
// opens: for Claim. Its two statements touch a few rows, through indexes,
// in about a millisecond, but the planner's estimate of their cost grows
// with the destinations and the records per destination it might visit
// (with 1,000 destinations and 1,000,000 pending records the first was
// estimated at 109,000), and past jit_above_cost (100,000 by default)
// PostgreSQL compiles the statement before running it, on every
// execution: 34ms of compilation for 1ms of work (TestClaimNeverJITs).
const noJIT = `SELECT set_config('jit', 'off', true)`

// forceCustomPlans and restorePlans bracket statements that must be
// planned for their parameters inside a transaction that may be the
// caller's: the first saves the current setting in a custom variable, the
// second puts it back. Both go in the same pipelined batch as the
// statements, so they cost no round trip.
const (
	forceCustomPlans = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)
FROM (SELECT set_config('outbound.saved_plan_cache_mode', current_setting('plan_cache_mode'), true)) AS saved`
	restorePlans = `SELECT set_config('plan_cache_mode', current_setting('outbound.saved_plan_cache_mode'), true)`
)

// planned returns a batch whose first query forces custom plans.
func planned() *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(customPlans)
	return b
}

// queryRecords runs one statement returning recordColumns rows.
func queryRecords(ctx context.Context, q querier, sql string, args ...any) ([]delivery.Record, error) {
	b := planned()
	b.Queue(sql, args...)
	br := q.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	recs, err := collectRecords(rows)
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return recs, br.Close()
}

// exec runs one statement and returns its command tag.
func exec(ctx context.Context, q querier, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	b := planned()
	b.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	err := q.SendBatch(ctx, b).Close()
	return tag, err
}
