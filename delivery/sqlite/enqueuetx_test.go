package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
	"github.com/outbound-go/outbound/delivery/storetest"
)

// appDSN is how an application opens its own database file: immediate
// transactions and a busy timeout.
func appDSN(path string) string { return path + "?_txlock=immediate&_pragma=busy_timeout(5000)" }

// openApp opens the application's handle on path and a Store on it, both
// closed when the test ends.
func openApp(t testing.TB, path string, now func() time.Time) (*sql.DB, *sqlite.Store) {
	t.Helper()
	db, err := sql.Open("sqlite", appDSN(path))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	s, err := sqlite.OpenDB(context.Background(), db, sqlite.Config{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return db, s
}

// A Store on the application's own *sql.DB passes the conformance suite
// (its write transactions take the lock first on a handle whose
// transactions may be deferred).
func TestOpenDBConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		_, s := openApp(t, filepath.Join(t.TempDir(), "app.db"), now)
		return s
	})
}

// The application's write and EnqueueSQLTx in one transaction: rolled
// back, neither exists and no dispatcher is woken; committed, both exist,
// another process's Store sees the record, and a dispatcher delivers it.
func TestEnqueueSQLTxFollowsCallerTransaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	db, store := openApp(t, path, nil)
	_, err := db.ExecContext(ctx, `CREATE TABLE orders (id TEXT PRIMARY KEY, state TEXT NOT NULL)`)
	require.NoError(t, err)

	pay := func(id string, commit bool) {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `INSERT INTO orders (id, state) VALUES (?, 'paid')`, id)
		require.NoError(t, err)
		got, err := store.EnqueueSQLTx(ctx, tx, delivery.Message{ID: "paid-" + id, Key: id, Payload: []byte(`{"order":"` + id + `"}`)})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.False(t, got[0].Existing)
		if commit {
			require.NoError(t, tx.Commit())
		} else {
			require.NoError(t, tx.Rollback())
		}
	}
	orders := func() int {
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n))
		return n
	}

	pay("o-1", false)
	assert.Zero(t, orders(), "rolled back: no order")
	_, err = store.Get(ctx, "paid-o-1")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "rolled back: no record")
	select {
	case <-store.Notify():
		t.Fatal("a rolled-back enqueue woke a dispatcher")
	default:
	}

	pay("o-2", true)
	assert.Equal(t, 1, orders())
	other := open(t, path, nil) // another handle, as another process has
	r, err := other.Get(ctx, "paid-o-2")
	require.NoError(t, err, "committed: the record is in the file")
	assert.Equal(t, delivery.StatePending, r.State)

	delivered := make(chan string, 1)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, PollInterval: 10 * time.Millisecond,
		Deliverer: delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
			delivered <- m.ID
			return nil
		}),
	})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	select {
	case id := <-delivered:
		assert.Equal(t, "paid-o-2", id)
	case <-time.After(time.Minute):
		t.Fatal("the committed record was not delivered")
	}
	cancel()
	require.NoError(t, <-done)
}

// A nil transaction, a finished one, one on another database file and a
// bad message are clear errors, and nothing is written anywhere.
func TestEnqueueSQLTxBadTransaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, store := openApp(t, filepath.Join(dir, "app.db"), nil)
	msg := delivery.Message{ID: "m-1", Payload: []byte(`{}`)}

	_, err := store.EnqueueSQLTx(ctx, nil, msg)
	assert.ErrorIs(t, err, delivery.ErrInvalid)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	_, err = store.EnqueueSQLTx(ctx, tx, msg)
	assert.ErrorIs(t, err, sql.ErrTxDone)

	otherDB, otherStore := openApp(t, filepath.Join(dir, "other.db"), nil)
	tx, err = otherDB.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = store.EnqueueSQLTx(ctx, tx, msg)
	assert.ErrorIs(t, err, delivery.ErrInvalid)
	assert.Contains(t, err.Error(), "other.db")
	require.NoError(t, tx.Commit())

	tx, err = db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = store.EnqueueSQLTx(ctx, tx, msg, delivery.Message{ID: "bad"}) // no payload
	assert.ErrorIs(t, err, delivery.ErrInvalid)
	require.NoError(t, tx.Commit())

	for _, s := range []*sqlite.Store{store, otherStore} {
		st, err := s.Stats(ctx)
		require.NoError(t, err)
		assert.Zero(t, st.Count(delivery.StatePending), "nothing enqueued")
	}
}

// OpenDB refuses what cannot hold an outbox, and leaves the caller's
// handle open when the Store is closed.
func TestOpenDBBadInput(t *testing.T) {
	ctx := context.Background()
	_, err := sqlite.OpenDB(ctx, nil, sqlite.Config{})
	assert.ErrorIs(t, err, delivery.ErrInvalid)

	path := filepath.Join(t.TempDir(), "app.db")
	db, err := sql.Open("sqlite", appDSN(path))
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	_, err = sqlite.OpenDB(ctx, db, sqlite.Config{Path: path})
	assert.ErrorIs(t, err, delivery.ErrInvalid, "Path belongs to the DSN")

	mem, err := sql.Open("sqlite", ":memory:?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	defer func() { _ = mem.Close() }()
	_, err = sqlite.OpenDB(ctx, mem, sqlite.Config{})
	assert.ErrorIs(t, err, delivery.ErrInvalid, "an in-memory database loses the outbox")

	noBusy, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "nobusy.db"))
	require.NoError(t, err)
	defer func() { _ = noBusy.Close() }()
	_, err = sqlite.OpenDB(ctx, noBusy, sqlite.Config{})
	assert.ErrorIs(t, err, delivery.ErrInvalid)
	assert.Contains(t, err.Error(), "busy_timeout")

	s, err := sqlite.OpenDB(ctx, db, sqlite.Config{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, db.PingContext(ctx), "Close leaves the caller's handle open")

	_, err = db.ExecContext(ctx, `INSERT INTO outbox_schema_version (version) VALUES (?)`, sqlite.SchemaVersion+1)
	require.NoError(t, err)
	_, err = sqlite.OpenDB(ctx, db, sqlite.Config{})
	assert.True(t, errors.Is(err, sqlite.ErrNewerSchema), "%v", err)
}

// The transactional cases of the conformance suite, through the
// application's own handle.
func TestConformanceTx(t *testing.T) {
	storetest.RunTx(t, func(t *testing.T, now func() time.Time) storetest.TxStore[*sql.Tx] {
		db, s := openApp(t, filepath.Join(t.TempDir(), "app.db"), now)
		return storetest.TxStore[*sql.Tx]{
			Store: s, Enqueuer: delivery.TxEnqueuerFunc[*sql.Tx](s.EnqueueSQLTx),
			Begin:    func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
			Commit:   (*sql.Tx).Commit,
			Rollback: (*sql.Tx).Rollback,
		}
	})
}
