package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
	"github.com/outbound-go/outbound/internal/testenv"
)

// TestMain fails the package's tests if any goroutine outlives them (every
// listener must stop with Close, every pool must be closed). When the
// binary is re-executed as the kill test's child it runs the child's
// dispatcher instead of the tests.
func TestMain(m *testing.M) {
	if killtest.IsChild() {
		os.Exit(killtest.RunChild(openChildStore, childTiming))
	}
	testenv.AnnounceSkips(testenv.Postgres)
	goleak.VerifyTestMain(m)
}

// newPool returns a pool on the test server, closed when the test ends.
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := testenv.PostgresURL(t)
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newSchema returns a unique schema name, dropped when the test ends.
func newSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	schema := testenv.UniqueName(t, "ob")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+quote(schema)+` CASCADE`)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func quote(name string) string { return `"` + name + `"` }

// newStore returns a migrated store in a fresh schema.
func newStore(t testing.TB, now func() time.Time) (*postgres.Store, *pgxpool.Pool) {
	t.Helper()
	pool := newPool(t)
	return newStoreWith(t, postgres.Config{Pool: pool, Now: now}), pool
}

// newStoreWith returns a store of cfg, migrated, in a fresh schema on
// cfg.Pool, closed when the test ends.
func newStoreWith(t testing.TB, cfg postgres.Config) *postgres.Store {
	t.Helper()
	cfg.Schema = newSchema(t, cfg.Pool)
	s, err := postgres.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(context.Background()))
	return s
}
