package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// Instances booting together all call Migrate: the advisory lock makes
// them apply each version once, and every call succeeds.
func TestMigrateConcurrentBoots(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	schema := newSchema(t, pool)
	const boots = 8
	var wg sync.WaitGroup
	errs := make([]error, boots)
	for i := range boots {
		wg.Go(func() {
			s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Table: "events_outbox"})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = s.Migrate(ctx)
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "boot %d", i)
	}

	s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Table: "events_outbox"})
	require.NoError(t, err)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.LatestSchemaVersionForTest(), v)
	var applied int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+quote(schema)+`.events_outbox_migrations`).Scan(&applied))
	assert.Equal(t, s.MigrationCountForTest(), applied, "each version applied once")

	// Idempotent: again, with data in place.
	_, err = s.Enqueue(ctx, delivery.Message{ID: "kept", Payload: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))
	_, err = s.Get(ctx, "kept")
	require.NoError(t, err, "re-running Migrate keeps the data")
}

func TestSchemaVersionBeforeMigrate(t *testing.T) {
	pool := newPool(t)
	s, err := postgres.New(postgres.Config{Pool: pool, Schema: newSchema(t, pool)})
	require.NoError(t, err)
	v, err := s.SchemaVersion(context.Background())
	require.NoError(t, err)
	assert.Zero(t, v)
}

// Two outboxes in one schema are independent, down to their wake-ups.
func TestTwoTablesInOneSchema(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	schema := newSchema(t, pool)
	a, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Table: "a"})
	require.NoError(t, err)
	b, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Table: "b"})
	require.NoError(t, err)
	defer func() { _ = a.Close(); _ = b.Close() }()
	require.NoError(t, a.Migrate(ctx))
	require.NoError(t, b.Migrate(ctx))
	wakeB := b.Notify()
	waitSignal(t, wakeB) // connected

	_, err = a.Enqueue(ctx, delivery.Message{ID: "same-id", Key: "K", Payload: []byte("a")})
	require.NoError(t, err)
	assertNoSignal(t, wakeB, "an insert into a must not wake b")
	res, err := b.Enqueue(ctx, delivery.Message{ID: "same-id", Key: "K", Payload: []byte("b")})
	require.NoError(t, err)
	assert.False(t, res[0].Existing)
	waitSignal(t, wakeB)
	recs, err := b.Claim(ctx, 10, 60e9)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, []byte("b"), recs[0].Payload)
}

func TestNewValidatesConfig(t *testing.T) {
	pool := newPool(t)
	for _, tc := range []struct {
		name  string
		cfg   postgres.Config
		field string
	}{
		{"no pool", postgres.Config{}, "Pool"},
		{"injection in schema", postgres.Config{Pool: pool, Schema: `x"; DROP TABLE users; --`}, "Schema"},
		{"upper-case schema", postgres.Config{Pool: pool, Schema: "Outbound"}, "Schema"},
		{"schema too long", postgres.Config{Pool: pool, Schema: "s234567890123456789012345678901234567890123456789012345678901234"}, "Schema"},
		{"injection in table", postgres.Config{Pool: pool, Table: "outbox; DELETE"}, "Table"},
		{"table too long for suffixes", postgres.Config{Pool: pool, Table: "t2345678901234567890123456789012345678901234567890"}, "Table"},
		{"leading digit", postgres.Config{Pool: pool, Table: "1outbox"}, "Table"},
		{"negative poll", postgres.Config{Pool: pool, PollInterval: -1}, "PollInterval"},
		{"negative reconnect", postgres.Config{Pool: pool, MaxReconnectDelay: -1}, "MaxReconnectDelay"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := postgres.New(tc.cfg)
			require.ErrorIs(t, err, postgres.ErrConfig)
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), "postgres: ")
		})
	}
	s, err := postgres.New(postgres.Config{Pool: pool})
	require.NoError(t, err)
	assert.Equal(t, "outbound.outbox", s.Name(), "defaults")
}

// An outbox that an older release created and filled (schema version 1)
// is upgraded in place by Migrate: the rows stay as they were, read back
// with the new columns at their zero values, and the new behaviour works
// on them.
func TestMigrateUpgradesVersion1InPlace(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	pool := newPool(t)
	schema := newSchema(t, pool)
	s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	require.NoError(t, s.MigrateToForTest(ctx, 1))
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, v)

	// Rows as version 1 wrote them: a dead record and a pending head of
	// another key, with the keys table to match.
	tbl := s.Name()
	_, err = pool.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, key, payload, created_at, state, is_head, next_attempt_at, updated_at, attempts, last_error)
VALUES ('dead-1', nextval('`+tbl+`_seq'), 'K1', 'x', $1, 4, false, $1, $1, 3, 'gone'),
       ('live-1', nextval('`+tbl+`_seq'), 'K2', 'y', $1, 1, true, $1, $1, 0, '')`, now.Add(-time.Hour))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+tbl+`_keys (key, live) VALUES ('K2', 1)`)
	require.NoError(t, err)

	require.NoError(t, s.Migrate(ctx))
	v, err = s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.LatestSchemaVersionForTest(), v)
	assert.Greater(t, v, 1)

	dead, err := s.Get(ctx, "dead-1")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDead, dead.State)
	assert.Equal(t, 3, dead.Attempts)
	assert.Equal(t, "gone", dead.LastAttempt.Error)
	assert.True(t, dead.RedrivenAt.IsZero(), "rows from before the upgrade were never redriven")

	n, err := s.Redrive(ctx, "dead-1")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	dead, err = s.Get(ctx, "dead-1")
	require.NoError(t, err)
	assert.True(t, now.Equal(dead.RedrivenAt), "RedrivenAt %v, want %v", dead.RedrivenAt, now)

	recs, err := s.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	var got []string
	for _, r := range recs {
		got = append(got, r.ID)
	}
	assert.ElementsMatch(t, []string{"live-1", "dead-1"}, got, "both keys' heads are claimable after the upgrade")

	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, st.Count(delivery.StateInFlight), "Stats reads the indexes the upgrade built")
	assert.Equal(t, time.Hour, st.OldestPending)

	require.NoError(t, s.Migrate(ctx), "migrating an upgraded outbox again changes nothing")
}

// An outbox from before version 4 held one record per idempotency key
// across destinations. Migrate moves the unique index to (destination,
// idempotency_key) in place: the rows stay, each keeps its key, and the
// other destinations of an event already stored can now be enqueued.
func TestMigrateVersion4ScopesIdempotencyToDestination(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	schema := newSchema(t, pool)
	s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	defer func() { _ = s.Close() }()
	require.NoError(t, s.MigrateToForTest(ctx, 3))
	tbl := s.Name()
	_, err = pool.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, destination, idempotency_key, payload, created_at, state, is_head, next_attempt_at, updated_at)
VALUES ('old-ats', nextval('`+tbl+`_seq'), 'ats', 'assessment-9001', 'event', now(), 3, false, now(), now())`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+tbl+` (id, seq, destination, idempotency_key, payload, created_at, state, is_head, next_attempt_at, updated_at)
VALUES ('old-crm', nextval('`+tbl+`_seq'), 'crm', 'assessment-9001', 'event', now(), 1, true, now(), now())`)
	require.Error(t, err, "version 3 refuses a second destination under one key")

	require.NoError(t, s.Migrate(ctx))
	rows, err := pool.Query(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'outbox' AND indexdef LIKE '%idempotency_key%'`, schema)
	require.NoError(t, err)
	indexes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"outbox_dest_idem_key"}, indexes, "the key-only unique index is gone")

	event := []byte("event")
	res, err := s.Enqueue(ctx,
		delivery.Message{Destination: "ats", IdempotencyKey: "assessment-9001", Payload: event},
		delivery.Message{Destination: "crm", IdempotencyKey: "assessment-9001", Payload: event},
		delivery.Message{Destination: "webhook", IdempotencyKey: "assessment-9001", Payload: event})
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.True(t, res[0].Existing, "the stored ATS record")
	assert.Equal(t, "old-ats", res[0].Record.ID)
	assert.False(t, res[1].Existing, "the CRM gets its record")
	assert.False(t, res[2].Existing, "the webhook gets its record")
	r, err := s.Get(ctx, "old-ats")
	require.NoError(t, err)
	assert.Empty(t, r.LastAttempt.Response, "rows from before the upgrade have no stored answer")
}
