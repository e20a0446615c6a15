package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
	"github.com/outbound-go/outbound/internal/testenv"
)

// newRole creates a role with no privileges (no login: the test's pools
// SET ROLE to it), dropped with whatever was granted to it when the test
// ends.
func newRole(t *testing.T, owner *pgxpool.Pool) string {
	t.Helper()
	role := testenv.UniqueName(t, "obrole")
	_, err := owner.Exec(context.Background(), `CREATE ROLE `+quote(role)+` NOLOGIN`)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := owner.Exec(ctx, `DROP OWNED BY `+quote(role)+`; DROP ROLE `+quote(role)); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}

// rolePool returns a pool whose every connection acts as role.
func rolePool(t *testing.T, role string) *pgxpool.Pool {
	t.Helper()
	conf, err := pgxpool.ParseConfig(testenv.PostgresURL(t))
	require.NoError(t, err)
	conf.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `SET ROLE `+pgx.Identifier{role}.Sanitize())
		return err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), conf)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// A role given only GrantSQL's privileges, after the owner migrated, can
// do everything a service does at run time: Migrate (nothing to do),
// enqueue, a dispatcher's claims and settles, a dead letter and its
// redrive, retention, the operators' reads. It cannot create a table.
func TestLeastPrivilegeRole(t *testing.T) {
	ctx := context.Background()
	owner, ownerPool := newStore(t, nil)
	schema := schemaOf(t, owner)
	role := newRole(t, ownerPool)
	grants, err := postgres.GrantSQL(schema, "", role)
	require.NoError(t, err)
	_, err = ownerPool.Exec(ctx, grants)
	require.NoError(t, err)

	pool := rolePool(t, role)
	s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(ctx), "Migrate on a current schema needs no CREATE")
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.LatestSchemaVersionForTest(), v)

	ids := killtest.Enqueue(t, s, "lp", 200)
	_, err = s.Enqueue(ctx, delivery.Message{ID: "doomed", Payload: []byte(`{}`)})
	require.NoError(t, err)

	var failDoomed atomic.Bool
	failDoomed.Store(true)
	counter := killtest.NewCounter()
	send := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		if m.ID == "doomed" && failDoomed.Load() {
			return classify.Permanent(errors.New("rejected"))
		}
		counter.Add(m.ID)
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: s, Deliverer: send, Concurrency: 4, MaxPerRun: 100, Lease: 5 * time.Minute,
	})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	waitFor(t, func() bool {
		r, err := s.Get(ctx, "doomed")
		require.NoError(t, err)
		return counter.Unique() == len(ids) && r.State == delivery.StateDead
	})
	failDoomed.Store(false)
	n, err := s.Redrive(ctx, "doomed")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the dead letter is redriven")
	waitFor(t, func() bool { return counter.Unique() == len(ids)+1 })
	cancel()
	require.NoError(t, <-done)
	dups, missing := counter.Duplicates(append(ids, "doomed"))
	assert.Empty(t, missing)
	assert.Zero(t, dups)

	// The retention job, as a service runs it, under the same role: an
	// hour later, in batches of 50.
	retention, err := postgres.NewRetention(postgres.RetentionConfig{Store: s, MaxAge: time.Minute, BatchSize: 50,
		Now: func() time.Time { return time.Now().Add(time.Hour) }})
	require.NoError(t, err)
	purged, err := retention.PurgeOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(ids)+1, purged, "retention deletes the delivered records")
	_, err = s.Destinations(ctx)
	require.NoError(t, err)
	_, err = s.Stats(ctx)
	require.NoError(t, err)

	_, err = pool.Exec(ctx, `CREATE TABLE `+quote(schema)+`.intruder (i integer)`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr, "the role cannot create tables")
	assert.Equal(t, "42501", pgErr.Code)
}

// Migrate by a role without CREATE rights: on an outdated schema, and on
// none at all, it fails with an error that wraps ErrPrivilege and names
// the privilege and the migration to run; nothing is applied.
func TestMigrateWithoutPrivilege(t *testing.T) {
	ctx := context.Background()
	ms, err := postgres.Migrations("", "")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ms), 2)

	t.Run("outdated", func(t *testing.T) {
		ownerPool := newPool(t)
		schema := newSchema(t, ownerPool)
		owner, err := postgres.New(postgres.Config{Pool: ownerPool, Schema: schema})
		require.NoError(t, err)
		require.NoError(t, owner.MigrateToForTest(ctx, ms[0].Version))
		role := newRole(t, ownerPool)
		// What a runtime role had on the older schema (GrantSQL's output
		// names tables the old schema does not have yet).
		_, err = ownerPool.Exec(ctx, `GRANT USAGE ON SCHEMA `+quote(schema)+` TO `+quote(role)+`;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA `+quote(schema)+` TO `+quote(role))
		require.NoError(t, err)

		s, err := postgres.New(postgres.Config{Pool: rolePool(t, role), Schema: schema})
		require.NoError(t, err)
		err = s.Migrate(ctx)
		require.ErrorIs(t, err, postgres.ErrPrivilege)
		assert.Contains(t, err.Error(), ms[1].Name, "names the migration to run")
		assert.Contains(t, err.Error(), "CREATE on the schema", "names the privilege")
		v, err := owner.SchemaVersion(ctx)
		require.NoError(t, err)
		assert.Equal(t, ms[0].Version, v, "nothing applied")
	})
	t.Run("no schema", func(t *testing.T) {
		ownerPool := newPool(t)
		schema := newSchema(t, ownerPool)
		role := newRole(t, ownerPool)
		s, err := postgres.New(postgres.Config{Pool: rolePool(t, role), Schema: schema})
		require.NoError(t, err)
		err = s.Migrate(ctx)
		require.ErrorIs(t, err, postgres.ErrPrivilege)
		assert.Contains(t, err.Error(), "CREATE on the database")
		assert.Contains(t, err.Error(), ms[0].Name)
		var exists bool
		require.NoError(t, ownerPool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&exists))
		assert.False(t, exists, "nothing created")
	})
}

// GrantSQL, NotifyChannel and Migrations refuse bad names and roles with
// ErrConfig, and quote a role that needs quoting.
func TestSchemaSQLBadInput(t *testing.T) {
	for _, tc := range []struct{ schema, table, role string }{
		{"Bad", "", "r"}, {"", "x;drop", "r"}, {"", "", ""}, {"", "", "a\x00b"},
		{"", "", strings.Repeat("r", 64)}, {"", "", "\xff"},
	} {
		_, err := postgres.GrantSQL(tc.schema, tc.table, tc.role)
		assert.ErrorIs(t, err, postgres.ErrConfig, "%q %q %q", tc.schema, tc.table, tc.role)
	}
	for _, tc := range []struct{ schema, table string }{{"Bad", ""}, {"", "a-b"}, {"", strings.Repeat("t", 49)}} {
		_, err := postgres.NotifyChannel(tc.schema, tc.table)
		assert.ErrorIs(t, err, postgres.ErrConfig)
		_, err = postgres.Migrations(tc.schema, tc.table)
		assert.ErrorIs(t, err, postgres.ErrConfig)
	}
	g, err := postgres.GrantSQL("", "", `app"; DROP TABLE x; --`)
	require.NoError(t, err)
	assert.Contains(t, g, `"app""; DROP TABLE x; --"`, "the role is one quoted identifier")
}

// waitFor polls cond until it holds, failing the test after two minutes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		time.Sleep(10 * time.Millisecond) // waiting for progress, not timing it
	}
}
