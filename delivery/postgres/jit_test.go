package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
)

// A claim is never JIT-compiled, however high the planner estimates its
// cost: with 1,000 destinations and 1,000,000 pending records the
// estimate of its first statement passed jit_above_cost and every claim
// spent 34ms compiling it for 1ms of work. Here jit_above_cost is 0, so
// every statement the server plans would be compiled; auto_explain reports
// each plan, with its JIT section, to the session.
func TestClaimNeverJITs(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	var mu sync.Mutex
	var plans []string
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["jit_above_cost"] = "0"
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "plan:") {
			mu.Lock()
			plans = append(plans, n.Message)
			mu.Unlock()
		}
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		for _, sql := range []string{`LOAD 'auto_explain'`, `SET auto_explain.log_min_duration = 0`,
			`SET auto_explain.log_analyze = on`, `SET client_min_messages = log`} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return err
			}
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	var available bool
	if err := pool.QueryRow(ctx, `SELECT pg_jit_available()`).Scan(&available); err != nil {
		t.Skipf("auto_explain cannot be loaded (it needs a superuser): %v", err)
	}
	if !available {
		t.Skip("this server has no JIT")
	}
	taken := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := plans
		plans = nil
		return out
	}
	taken()

	// The check works: a statement of any cost is compiled on this
	// connection.
	_, err = pool.Exec(ctx, `SELECT count(*) FROM generate_series(1, 10) AS g WHERE g % 2 = 0`)
	require.NoError(t, err)
	got := taken()
	require.Len(t, got, 1)
	require.Contains(t, got[0], "JIT:", "jit_above_cost 0 compiles every statement")

	store, err := postgres.New(postgres.Config{Pool: pool, Schema: newSchema(t, pool)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(ctx))
	// Both statements do work: a bounded destination (locked by the
	// first) and unbounded ones (taken by the second).
	require.NoError(t, store.SetDestinationLimits(ctx, "bounded", delivery.DestinationLimits{MaxInFlight: 2}))
	var msgs []delivery.Message
	for i := range 12 {
		msgs = append(msgs, delivery.Message{Destination: []string{"bounded", "a", "b"}[i%3], Payload: []byte(`{}`)})
	}
	_, err = store.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	taken()

	for range 7 { // past the five custom plans before a generic one may be cached
		recs, err := store.Claim(ctx, 3, time.Minute)
		require.NoError(t, err)
		got := taken()
		var claims int
		for _, p := range got {
			if strings.Contains(p, "claim_token") {
				claims++
				if i := strings.Index(p, "JIT:"); i >= 0 {
					t.Errorf("a claim statement was JIT-compiled: %s", p[i:])
				}
			}
		}
		assert.Equal(t, 2, claims, "both statements of the claim explained: %q", got)
		for _, r := range recs {
			require.NoError(t, store.Release(ctx, r.Lease()))
		}
	}
	taken()

	// The setting is the claim's own: the connection compiles again after it.
	_, err = pool.Exec(ctx, `SELECT count(*) FROM generate_series(1, 10) AS g WHERE g % 2 = 0`)
	require.NoError(t, err)
	got = taken()
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "JIT:", "jit is back on after the claim")
}
