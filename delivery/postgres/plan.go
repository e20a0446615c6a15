package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outbound-go/outbound/delivery"
)

// Every statement the store runs is planned for its actual parameters and
// the table as it is now. pgx prepares statements once per connection, and
// PostgreSQL may then settle on a generic plan made while the outbox was
// small, a sequential scan that stays cached as the table grows until the
// next ANALYZE. With plan_cache_mode = force_custom_plan, set locally to the
// store's own (implicit or explicit) transaction, the statements keep their
// prepared parse but are planned each time, so they use their indexes at
// any size. The setting is queued in the same pipelined batch as the
// statement, so it costs no round trip.

// customPlans forces custom plans until the end of the current transaction
// (for a pipelined batch without BEGIN: until the end of the batch).
const customPlans = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`

// swapPlanMode forces custom plans in a caller's transaction and returns
// the previous setting, which restorePlanMode puts back.
const (
	swapPlanMode    = `SELECT current_setting('plan_cache_mode'), set_config('plan_cache_mode', 'force_custom_plan', true)`
	restorePlanMode = `SELECT set_config('plan_cache_mode', $1, true)`
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

// queryRow runs one statement returning one row, scanned into dest.
func queryRow(ctx context.Context, q querier, sql string, args []any, dest ...any) error {
	b := planned()
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
	return q.SendBatch(ctx, b).Close()
}

// exec runs one statement and returns its command tag.
func exec(ctx context.Context, q querier, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	b := planned()
	b.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error { tag = ct; return nil })
	err := q.SendBatch(ctx, b).Close()
	return tag, err
}
