package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", as goose users open it
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest"
	"github.com/outbound-go/outbound/internal/testenv"
)

// gooseMigrated applies the files `outbound-schema -format goose` writes
// to a fresh schema with goose's own library (goose's version table in
// that schema), and returns a store on it. The schema is dropped when the
// test ends.
func gooseMigrated(t *testing.T, now func() time.Time) (*postgres.Store, *pgxpool.Pool, []*goose.MigrationResult) {
	t.Helper()
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	schema := testenv.UniqueName(t, "goose")
	// goose keeps its version table in the schema, so the schema exists
	// before goose runs; the first migration's CREATE SCHEMA IF NOT
	// EXISTS then finds it.
	_, err = pool.Exec(ctx, `CREATE SCHEMA "`+schema+`"`)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run([]string{"-format", "goose", "-schema", schema, "-dir", dir}, &stdout, &stderr))
	db, err := sql.Open("pgx", url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(dir), goose.WithTableName(schema+".goose_db_version"))
	require.NoError(t, err)
	results, err := p.Up(ctx)
	require.NoError(t, err)

	s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, pool, results
}

// goose applies the rendered migrations to a fresh schema; the store then
// reports the current version, its Migrate finds nothing to do, and a
// store on a goose-migrated schema passes the whole conformance suite.
func TestGooseAppliesRenderedMigrations(t *testing.T) {
	ctx := context.Background()
	ms, err := postgres.Migrations("", "")
	require.NoError(t, err)

	s, pool, results := gooseMigrated(t, nil)
	require.Len(t, results, len(ms), "goose applied every migration")
	for i, r := range results {
		assert.EqualValues(t, ms[i].Version, r.Source.Version)
		assert.NoError(t, r.Error)
	}
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, ms[len(ms)-1].Version, v, "SchemaVersion reports the current version")
	require.NoError(t, s.Migrate(ctx))
	var rows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+s.Name()+`_migrations`).Scan(&rows))
	assert.Equal(t, len(ms), rows, "Migrate found every version recorded and applied none again")

	_, err = s.Enqueue(ctx, delivery.Message{ID: "after-goose", Payload: []byte(`{}`)})
	require.NoError(t, err)

	t.Run("storetest", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
			s, _, _ := gooseMigrated(t, now)
			return s
		})
	})
}
