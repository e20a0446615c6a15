package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Open's own two handles, not a DSN a test builds: the writing handle and
// the reading one both run in WAL mode with synchronous=FULL and the
// configured busy timeout, and only the writing handle begins its
// transactions IMMEDIATE (holding the write lock from BEGIN), so reads
// never queue behind a writer.
func TestOpenHandlesUseWALAndImmediateWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := Open(ctx, Config{Path: path, BusyTimeout: 1234 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	for name, db := range map[string]*sql.DB{"writes": s.db, "reads": s.reads} {
		var (
			mode       string
			sync, busy int
		)
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode), name)
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync), name)
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy), name)
		require.Equal(t, "wal", mode, name)
		require.Equal(t, 2, sync, "%s: synchronous=FULL", name)
		require.Equal(t, 1234, busy, name)
	}

	// Another process's handle, which waits for no lock.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, other.Close()) })
	other.SetMaxOpenConns(1)
	beginImmediate := func() error {
		conn, err := other.Conn(ctx)
		require.NoError(t, err)
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			return err
		}
		_, err = conn.ExecContext(ctx, `ROLLBACK`)
		return err
	}
	require.NoError(t, beginImmediate(), "nothing holds the lock yet")

	// A read transaction on the reading handle takes no write lock.
	rtx, err := s.reads.BeginTx(ctx, nil)
	require.NoError(t, err)
	var n int
	require.NoError(t, rtx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n))
	require.NoError(t, beginImmediate(), "a read transaction left the write lock free")
	require.NoError(t, rtx.Rollback())

	// A transaction on the writing handle holds it from BEGIN, before
	// any statement.
	wtx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.Error(t, beginImmediate(), "the writing handle's BEGIN took the write lock")
	require.NoError(t, wtx.Rollback())
	require.NoError(t, beginImmediate(), "the lock is free after the rollback")
}
