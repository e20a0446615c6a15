package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest"
	"github.com/outbound-go/outbound/internal/testenv"
)

// The store keeps every contract of the conformance suite with
// AsyncClaimCommit: only the claim's durability on a server crash
// changes.
func TestConformanceAsyncClaimCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		return newStoreWith(t, postgres.Config{Pool: newPool(t), Now: now, AsyncClaimCommit: true})
	})
}

// batchRecorder records the SQL of every batched statement a pool sends.
type batchRecorder struct {
	mu   sync.Mutex
	sqls []string
}

func (r *batchRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (r *batchRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *batchRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (r *batchRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
func (r *batchRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sqls = append(r.sqls, d.SQL)
}

// asyncCommits counts the batched statements that turned
// synchronous_commit off.
func (r *batchRecorder) asyncCommits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.sqls {
		if strings.Contains(s, "'synchronous_commit', 'off'") {
			n++
		}
	}
	return n
}

// AsyncClaimCommit turns synchronous_commit off for each claim's own
// transaction, nothing else: not without the option, not for enqueues or
// settles, and the pool's connections keep the server's setting after.
func TestAsyncClaimCommitStaysInTheClaim(t *testing.T) {
	ctx := context.Background()
	for _, async := range []bool{false, true} {
		rec := &batchRecorder{}
		cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
		require.NoError(t, err)
		cfg.ConnConfig.Tracer = rec
		cfg.MaxConns = 2
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(pool.Close)
		store := newStoreWith(t, postgres.Config{Pool: pool, AsyncClaimCommit: async})

		_, err = store.Enqueue(ctx, delivery.Message{Payload: []byte("a")}, delivery.Message{Payload: []byte("b")})
		require.NoError(t, err)
		claims := 0
		for {
			recs, err := store.Claim(ctx, 1, time.Minute)
			require.NoError(t, err)
			claims++
			if len(recs) == 0 {
				break
			}
			require.NoError(t, store.Complete(ctx, recs[0].Lease(), delivery.Attempt{StartedAt: time.Now(), Status: 200}, false))
		}
		want := 0
		if async {
			want = claims
		}
		assert.Equal(t, want, rec.asyncCommits(), "async %v: one set_config per claim batch, none elsewhere", async)

		conns := pool.AcquireAllIdle(ctx)
		require.NotEmpty(t, conns)
		for _, c := range conns {
			var setting, server string
			require.NoError(t, c.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), reset_val FROM pg_settings WHERE name = 'synchronous_commit'`).Scan(&setting, &server))
			assert.Equal(t, server, setting, "async %v: the connection keeps the server's setting", async)
			c.Release()
		}
	}
}
