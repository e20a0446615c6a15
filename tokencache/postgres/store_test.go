package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/internal/testenv"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/postgres"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(testenv.Postgres)
	goleak.VerifyTestMain(m)
}

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newSchema creates a schema for this test only and drops it afterwards.
func newSchema(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	schema := testenv.UniqueName(t, "tok")
	_, err := pool.Exec(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	return schema
}

// newStores returns n stores on one fresh table, each with its own pool,
// like n separate processes.
func newStores(t *testing.T, n int) []tokencache.Store {
	t.Helper()
	admin := newPool(t)
	table := newSchema(t, admin) + ".tokens"
	stores := make([]tokencache.Store, n)
	for i := range stores {
		s, err := postgres.New(newPool(t), postgres.Config{Table: table})
		require.NoError(t, err)
		if i == 0 {
			require.NoError(t, s.Migrate(t.Context()))
		}
		stores[i] = s
	}
	return stores
}

func TestConformance(t *testing.T) {
	tokentest.RunStoreTests(t, func(t *testing.T) tokencache.Store { return newStores(t, 1)[0] })
}

func TestEncryptedConformance(t *testing.T) {
	tokentest.RunStoreTests(t, func(t *testing.T) tokencache.Store {
		s, err := tokencache.NewEncryptedStore(newStores(t, 1)[0], make([]byte, 32))
		require.NoError(t, err)
		return s
	})
}

func TestSharingAcrossProcesses(t *testing.T) {
	tokentest.RunSharingTests(t, newStores)
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	pool := newPool(t)
	table := newSchema(t, pool) + ".tokens"
	s, err := postgres.New(pool, postgres.Config{Table: table})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, s.Save(t.Context(), "k", tokencache.Token{Value: "v", Expiry: time.Now().Add(time.Hour)}))
	require.NoError(t, s.Migrate(t.Context()), "migrating again")
	_, err = s.Load(t.Context(), "k")
	require.NoError(t, err, "migrating again lost the token")
}

func TestDefaultTable(t *testing.T) {
	pool := newPool(t)
	schema := newSchema(t, pool)
	// The default name lands in the connection's search path.
	cfg, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	scoped, err := pgxpool.NewWithConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(scoped.Close)
	s, err := postgres.New(scoped, postgres.Config{})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	var n int
	require.NoError(t, pool.QueryRow(t.Context(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`,
		schema, postgres.DefaultTable).Scan(&n))
	require.Equal(t, 1, n)
}

func TestNewValidatesTableName(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://localhost/none") // lazy: never connects
	require.NoError(t, err)
	defer pool.Close()
	for _, bad := range []string{"a.b.c", "Tokens", "1tokens", "tok-ens", `x"; DROP TABLE y; --`, "schema.", ".t", strings.Repeat("a", 64), "tok ens"} {
		_, err := postgres.New(pool, postgres.Config{Table: bad})
		require.ErrorContains(t, err, "Config.Table", bad)
	}
	for _, good := range []string{"tokens", "_t", "app.tokens", strings.Repeat("a", 63)} {
		_, err := postgres.New(pool, postgres.Config{Table: good})
		require.NoError(t, err, good)
	}
	_, err = postgres.New(nil, postgres.Config{})
	require.ErrorContains(t, err, "pool is nil")
}

func TestErrorsDoNotQuoteRows(t *testing.T) {
	pool := newPool(t)
	table := newSchema(t, pool) + ".tokens"
	s, err := postgres.New(pool, postgres.Config{Table: table})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	// A constraint a DBA added makes the server report the failing row,
	// token value included, in the error detail.
	_, err = pool.Exec(t.Context(), `ALTER TABLE `+table+` ADD CONSTRAINT short CHECK (length(value) < 10)`)
	require.NoError(t, err)
	const secret = "a-long-secret-token-value"
	err = s.Save(t.Context(), "k", tokencache.Token{Value: secret})
	require.ErrorContains(t, err, "tokencache/postgres: save:")
	require.ErrorContains(t, err, "SQLSTATE 23514")
	for _, format := range []string{"%v", "%+v", "%#v"} {
		require.NotContains(t, strings.ReplaceAll(fmt.Sprintf(format, err), `\`, ""), secret)
	}
}
