package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// List filtered to pending or in-flight records reads those states'
// partial indexes, not the delivered history in Seq order: a page of what
// is waiting costs the same with a long history retained as with none.
// The history here is older than the backlog, as it is in practice, so a
// walk in Seq order would read all of it before the first pending record.
func TestListByLiveStateSkipsTheHistory(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store, pool := newStore(t, func() time.Time { return base })
	const history, pending = 100_000, 2_000
	tbl := store.Name()
	_, err := pool.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, key, payload, created_at, state, is_head, next_attempt_at, updated_at, attempts)
SELECT 'h-' || g, nextval('`+tbl+`_seq'), '', '\x7b7d'::bytea, $1::timestamptz - interval '2 days',
	3, false, $1::timestamptz - interval '2 days', $1::timestamptz - interval '2 days' + g * interval '1 millisecond', 1
FROM generate_series(1, $2::integer) AS g`, base, history)
	require.NoError(t, err)
	seedBacklog(t, pool, store, base, pending, 0) // pending heads and blocked records, then ANALYZE
	inFlight, err := store.Claim(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, inFlight, 1)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	for _, c := range []struct {
		state   delivery.State
		indexes []string
	}{
		{delivery.StatePending, []string{"Index Scan using outbox_pending_seq_idx"}},
		{delivery.StateInFlight, []string{"outbox_dest_lease_idx"}},
	} {
		plan := explain(t, tx, store.ListSQLForTest(), int64(0), int16(c.state), "", 101, nil, nil, nil, "", base)
		t.Logf("list %v with %d delivered before %d pending:\n%s", c.state, history, pending, plan)
		for _, idx := range c.indexes {
			assert.Contains(t, plan, idx, "list %v reads %s", c.state, idx)
		}
		assert.NotContains(t, plan, "outbox_seq_key", "list %v does not walk the history in Seq order", c.state)
		assert.NotContains(t, plan, "Rows Removed by Filter", "list %v reads its state's records only", c.state)
		assert.NotRegexp(t, `Seq Scan on outbox( |\n)`, plan, "list %v does not scan the records", c.state)
	}
	require.NoError(t, tx.Rollback(ctx))

	page, err := store.List(ctx, delivery.ListOptions{State: delivery.StatePending, Limit: 100})
	require.NoError(t, err)
	require.Len(t, page.Records, 100)
	for i, r := range page.Records {
		assert.Equal(t, delivery.StatePending, r.State, r.ID)
		assert.Greater(t, r.Seq, int64(history), "%s is not history", r.ID)
		if i > 0 {
			assert.Greater(t, r.Seq, page.Records[i-1].Seq, "in Seq order")
		}
	}
	page, err = store.List(ctx, delivery.ListOptions{State: delivery.StateInFlight})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	assert.Equal(t, inFlight[0].ID, page.Records[0].ID)
}
