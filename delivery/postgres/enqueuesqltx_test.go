package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "github.com/lib/pq"              // registers "postgres"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
)

// sqlDrivers are the database/sql drivers EnqueueSQLTx is tested with:
// pgx's stdlib driver and lib/pq.
var sqlDrivers = []string{"pgx", "postgres"}

func openSQL(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.PingContext(context.Background()))
	return db
}

// otherDatabaseURL is the test server's URL for its "postgres" database,
// where no test's outbox exists.
func otherDatabaseURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testenv.PostgresURL(t))
	require.NoError(t, err)
	u.Path = "/postgres"
	return u.String()
}

// sqlTxMessage exercises every column the enqueue statements pass as
// arrays: quotes and backslashes in text, bytes, headers, an idempotency
// key, a key, a creation time and a trace context.
func sqlTxMessage(id string) delivery.Message {
	return delivery.Message{
		ID: id, Key: `order "7" \ a`, Destination: "partner-a",
		Payload:        []byte("{\"q\":\"\\\"x\\\\\"}\xff\x00"),
		Headers:        map[string]string{"X-Trace": `a"b\c`},
		IdempotencyKey: `idem-` + id,
		CreatedAt:      time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
		TraceParent:    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		TraceState:     "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
	}
}

// EnqueueSQLTx with pgx's stdlib driver and with lib/pq: a rolled-back
// transaction enqueues nothing and wakes nobody; a committed one stores
// the records, wakes dispatchers, and a Dispatcher delivers them.
func TestEnqueueSQLTxFollowsCallerTransaction(t *testing.T) {
	for _, driver := range sqlDrivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			store, pool := newStore(t, nil)
			db := openSQL(t, driver, testenv.PostgresURL(t))
			orders := quote(schemaOf(t, store)) + ".orders"
			_, err := pool.Exec(ctx, `CREATE TABLE `+orders+` (id text PRIMARY KEY, state text NOT NULL)`)
			require.NoError(t, err)
			wake := store.Notify()
			waitSignal(t, wake) // the listener's first signal after connecting

			// Rolled back: no order, no record, no wake-up.
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, `INSERT INTO `+orders+` VALUES ('o-1', 'paid')`)
			require.NoError(t, err)
			res, err := store.EnqueueSQLTx(ctx, tx, sqlTxMessage("rec-1"))
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.False(t, res[0].Existing)
			require.NoError(t, tx.Rollback())
			_, err = store.Get(ctx, "rec-1")
			assert.ErrorIs(t, err, delivery.ErrNotFound, "a rolled-back transaction leaves no record")
			assertNoSignal(t, wake, "a rolled-back enqueue wakes nobody")
			recs, err := store.Claim(ctx, 10, time.Minute)
			require.NoError(t, err)
			assert.Empty(t, recs)

			// Committed: the record is stored as given, and the same
			// message again (in another transaction) is found as
			// existing, read back through the driver.
			tx, err = db.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = tx.ExecContext(ctx, `INSERT INTO `+orders+` VALUES ('o-1', 'paid')`)
			require.NoError(t, err)
			want := sqlTxMessage("rec-2")
			res, err = store.EnqueueSQLTx(ctx, tx, want, delivery.Message{ID: "rec-3", Payload: []byte("{}")})
			require.NoError(t, err)
			require.Len(t, res, 2)
			assert.Positive(t, res[0].Record.Seq)
			require.NoError(t, tx.Commit())
			waitSignal(t, wake)

			got, err := store.Get(ctx, "rec-2")
			require.NoError(t, err)
			assert.Equal(t, want.Payload, got.Payload)
			assert.Equal(t, want.Headers, got.Headers)
			assert.Equal(t, want.Key, got.Key)
			assert.Equal(t, want.IdempotencyKey, got.IdempotencyKey)
			assert.Equal(t, want.TraceParent, got.TraceParent)
			assert.Equal(t, want.TraceState, got.TraceState)
			assert.True(t, want.CreatedAt.Equal(got.CreatedAt), "created %v, want %v", got.CreatedAt, want.CreatedAt)
			assert.Equal(t, res[0].Record.Seq, got.Seq)

			tx, err = db.BeginTx(ctx, nil)
			require.NoError(t, err)
			again, err := store.EnqueueSQLTx(ctx, tx, want)
			require.NoError(t, err)
			require.NoError(t, tx.Commit())
			require.Len(t, again, 1)
			assert.True(t, again[0].Existing)
			assert.Equal(t, got.Seq, again[0].Record.Seq)
			assert.Equal(t, want.Headers, again[0].Record.Headers)
			assert.Equal(t, want.Payload, again[0].Record.Payload)

			deliverAll(t, store, "rec-2", "rec-3")
		})
	}
}

// deliverAll runs a Dispatcher on store until it has delivered ids, and
// checks they are delivered.
func deliverAll(t *testing.T, store *postgres.Store, ids ...string) {
	t.Helper()
	delivered := make(chan string, 16)
	send := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		delivered <- m.ID
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	seen := map[string]bool{}
	timeout := time.After(30 * time.Second)
	for len(seen) < len(ids) {
		select {
		case id := <-delivered:
			seen[id] = true
		case <-timeout:
			t.Fatalf("delivered %v of %v within 30s", seen, ids)
		}
	}
	cancel()
	require.NoError(t, <-done)
	for _, id := range ids {
		assert.True(t, seen[id], "%s delivered", id)
		r, err := store.Get(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, r.State, id)
	}
}

// Bad transactions: a nil one, one already committed or rolled back, and
// one on a database where the store's outbox does not exist give clear
// errors, and nothing is enqueued anywhere.
func TestEnqueueSQLTxBadTransaction(t *testing.T) {
	for _, driver := range sqlDrivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			store, _ := newStore(t, nil)
			db := openSQL(t, driver, testenv.PostgresURL(t))
			msg := delivery.Message{ID: "bad-1", Payload: []byte("{}")}

			_, err := store.EnqueueSQLTx(ctx, nil, msg)
			require.ErrorIs(t, err, delivery.ErrInvalid)
			assert.Contains(t, err.Error(), "nil transaction")

			for _, end := range []string{"commit", "rollback"} {
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(t, err)
				if end == "commit" {
					require.NoError(t, tx.Commit())
				} else {
					require.NoError(t, tx.Rollback())
				}
				_, err = store.EnqueueSQLTx(ctx, tx, msg)
				require.ErrorIs(t, err, sql.ErrTxDone, "after %s", end)
				assert.Contains(t, err.Error(), "postgres: enqueue")
			}

			other := openSQL(t, driver, otherDatabaseURL(t))
			tx, err := other.BeginTx(ctx, nil)
			require.NoError(t, err)
			_, err = store.EnqueueSQLTx(ctx, tx, msg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "does not exist in the transaction's database")
			assert.Contains(t, err.Error(), store.Name())
			require.NoError(t, tx.Rollback())

			_, err = store.Get(ctx, "bad-1")
			assert.ErrorIs(t, err, delivery.ErrNotFound, "nothing enqueued")
		})
	}
}

// The same bad transactions for EnqueueTx with a pgx.Tx.
func TestEnqueueTxBadTransaction(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	msg := delivery.Message{ID: "bad-1", Payload: []byte("{}")}

	_, err := store.EnqueueTx(ctx, nil, msg)
	require.ErrorIs(t, err, delivery.ErrInvalid)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	_, err = store.EnqueueTx(ctx, tx, msg)
	require.ErrorIs(t, err, pgx.ErrTxClosed)

	other, err := pgx.Connect(ctx, otherDatabaseURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Close(context.Background()) })
	tx, err = other.Begin(ctx)
	require.NoError(t, err)
	_, err = store.EnqueueTx(ctx, tx, msg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not exist in the transaction's database")
	require.NoError(t, tx.Rollback(ctx))

	_, err = store.Get(ctx, "bad-1")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "nothing enqueued")
}
