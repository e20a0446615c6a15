package sqlitedriver_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" driver (SQLite compiled to Wasm, translated to Go)
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite" // registers the "sqlite" driver (SQLite's C translated to Go); delivery/sqlite imports it too

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
	"github.com/outbound-go/outbound/delivery/storetest"
)

// The database/sql driver names of the two drivers.
const (
	modernc = "sqlite"  // modernc.org/sqlite
	ncruces = "sqlite3" // github.com/ncruces/go-sqlite3/driver
)

// TestMain fails the tests if a goroutine outlives them; re-executed as a
// child of TestTwoDriversInTwoProcesses, the binary runs its part instead.
func TestMain(m *testing.M) {
	if os.Getenv(childRoleEnv) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// dsn is a DSN both drivers read the same way, with the settings
// sqlite.Open gives its own handles: a file: URI (ncruces reads the
// parameters only from one), immediate write transactions, a busy timeout,
// WAL and synchronous=FULL.
func dsn(path string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
}

// openDB opens path with driver and a Store on it through sqlite.OpenDB,
// both closed when the test ends.
func openDB(tb testing.TB, driver, path string, cfg sqlite.Config) (*sql.DB, *sqlite.Store) {
	tb.Helper()
	db, err := sql.Open(driver, dsn(path))
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, db.Close()) })
	s, err := sqlite.OpenDB(context.Background(), db, cfg)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return db, s
}

// open opens a Store on path with sqlite.Open (modernc), closed when the
// test ends.
func open(tb testing.TB, path string, now func() time.Time) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, Now: now})
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	return s
}

// The journal mode and synchronous setting each driver leaves on an
// OpenDB handle opened with dsn: the figures of BenchmarkDrivers compare
// like with like.
func TestDSNSettingsHoldOnBothDrivers(t *testing.T) {
	ctx := context.Background()
	for _, driver := range []string{modernc, ncruces} {
		t.Run(driver, func(t *testing.T) {
			db, _ := openDB(t, driver, filepath.Join(t.TempDir(), "outbox.db"), sqlite.Config{})
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			var (
				mode       string
				sync, busy int
			)
			require.NoError(t, conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
			require.NoError(t, conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
			require.NoError(t, conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
			require.Equal(t, "wal", mode)
			require.Equal(t, 2, sync, "synchronous=FULL")
			require.Equal(t, 5000, busy)

			// A transaction begun with the handle's defaults holds the
			// write lock from BEGIN (_txlock=immediate): another handle's
			// BEGIN IMMEDIATE, with no busy timeout, is refused at once.
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck // only a lock holder
			other, err := sql.Open(driver, "file:"+(&url.URL{Path: pathOf(t, db)}).EscapedPath()+"?_pragma=busy_timeout(0)")
			require.NoError(t, err)
			defer other.Close()
			_, err = other.ExecContext(ctx, `BEGIN IMMEDIATE`)
			require.Error(t, err, "the default transaction took the write lock at BEGIN")
		})
	}
}

// pathOf returns the file of db's main database.
func pathOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var file string
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file))
	return file
}

// The conformance suite on a Store that OpenDB makes on an ncruces handle:
// an application already on github.com/ncruces/go-sqlite3 can keep its
// driver.
func TestNcrucesConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		_, s := openDB(t, ncruces, filepath.Join(t.TempDir(), "outbox.db"), sqlite.Config{Now: now})
		return s
	})
}

func TestNcrucesConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, now func() time.Time) (delivery.Store, delivery.Store) {
		path := filepath.Join(t.TempDir(), "outbox.db")
		_, a := openDB(t, ncruces, path, sqlite.Config{Now: now})
		_, b := openDB(t, ncruces, path, sqlite.Config{Now: now})
		return a, b
	})
}

func TestNcrucesHistoryBounds(t *testing.T) {
	storetest.RunHistoryBounds(t, func(t *testing.T, now func() time.Time, h delivery.History) delivery.Store {
		_, s := openDB(t, ncruces, filepath.Join(t.TempDir(), "outbox.db"), sqlite.Config{Now: now, History: h})
		return s
	})
}

func TestNcrucesConformanceTx(t *testing.T) {
	storetest.RunTx(t, func(t *testing.T, now func() time.Time) storetest.TxStore[*sql.Tx] {
		db, s := openDB(t, ncruces, filepath.Join(t.TempDir(), "outbox.db"), sqlite.Config{Now: now})
		return storetest.TxStore[*sql.Tx]{
			Store: s, Enqueuer: delivery.TxEnqueuerFunc[*sql.Tx](s.EnqueueSQLTx),
			Begin:    func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
			Commit:   (*sql.Tx).Commit,
			Rollback: (*sql.Tx).Rollback,
		}
	})
}
