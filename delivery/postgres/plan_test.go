package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
)

// Statements prepared while the outbox was nearly empty must not keep a
// plan that scans it once it is large: the store plans each execution for
// the table as it is. The test warms the connection's prepared statements
// on a small table, grows it 100-fold without ANALYZE (autovacuum
// off for it), over 1,000 destinations, runs every hot path again on the
// same connection, and reads that backend's sequential-scan count for the
// table.
func TestNoSequentialScansAfterGrowth(t *testing.T) {
	ctx := context.Background()
	conf, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	require.NoError(t, err)
	conf.MaxConns = 1 // one backend: its statement cache and its scan counts
	pool, err := pgxpool.NewWithConfig(ctx, conf)
	require.NoError(t, err)
	defer pool.Close()
	admin := newPool(t)
	schema := newSchema(t, admin)
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	defer func() { _ = store.Close() }()
	require.NoError(t, store.Migrate(ctx))
	_, err = pool.Exec(ctx, `ALTER TABLE `+store.Name()+` SET (autovacuum_enabled = false)`)
	require.NoError(t, err)

	grow := func(from, to int) {
		t.Helper()
		_, err := pool.Exec(ctx, `INSERT INTO `+store.Name()+` (id, seq, key, destination, payload, created_at, state, is_head, next_attempt_at, updated_at)
SELECT 'bulk-' || g, nextval('`+store.Name()+`_seq'), 'bulk-' || g, 'dest-' || (g % 1000), 'x', now(), 3, false, now(), now()
FROM generate_series($1::integer, $2::integer) AS g`, from, to)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO `+store.Name()+`_destinations (name)
SELECT 'dest-' || g FROM generate_series(0, 999) AS g ON CONFLICT DO NOTHING`)
		require.NoError(t, err)
	}
	grow(1, 1000) // a small outbox: a scan of it is as cheap as an index probe
	round := func(i int) {
		t.Helper()
		id := fmt.Sprintf("w-%d", i)
		_, err := store.Enqueue(ctx, delivery.Message{ID: id, Key: "K", IdempotencyKey: id, Payload: []byte("x")})
		require.NoError(t, err)
		batch := make([]delivery.Message, 100) // a batch looks up 100 ids at once, for 10 destinations
		for j := range batch {
			batch[j] = delivery.Message{ID: fmt.Sprintf("%s-%d", id, j), Destination: fmt.Sprintf("dest-%d", j%10), Payload: []byte("x")}
		}
		_, err = store.Enqueue(ctx, batch...)
		require.NoError(t, err)
		_, err = store.Get(ctx, id)
		require.NoError(t, err)
		recs, err := store.Claim(ctx, 200, time.Minute)
		require.NoError(t, err)
		for _, r := range recs {
			require.NoError(t, store.Reschedule(ctx, r.Lease(), time.Now(), nil))
		}
		recs, err = store.Claim(ctx, 200, time.Minute)
		require.NoError(t, err)
		for _, r := range recs {
			require.NoError(t, store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK}, false))
		}
		_, err = store.Purge(ctx, time.Now().Add(-time.Hour), 10)
		require.NoError(t, err)
		_, err = store.Stats(ctx)
		require.NoError(t, err)
		_, _, err = store.NextDue(ctx)
		require.NoError(t, err)
	}
	for i := range 12 { // past PostgreSQL's five custom plans before it considers a generic one
		round(i)
	}
	grow(1001, 100_000)

	scans := func() int64 {
		t.Helper()
		// Flush every pooled backend's counters (a backend flushes before
		// it answers ReadyForQuery, so they are in when Exec returns), then
		// read them from another connection.
		for _, conn := range pool.AcquireAllIdle(ctx) {
			flushStats(t, conn)
			conn.Release()
		}
		var n int64
		require.NoError(t, admin.QueryRow(ctx, `SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'outbox'`, schema).Scan(&n))
		return n
	}
	before := scans()
	for i := 100; i < 103; i++ {
		round(i)
	}
	_, err = pool.Exec(ctx, `SELECT count(*) FROM `+store.Name()) // a control: exactly one scan
	require.NoError(t, err)
	assert.Equal(t, before+1, scans(), "only the control query scanned the grown table")
}
