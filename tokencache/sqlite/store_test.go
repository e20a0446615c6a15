package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/sqlite"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newStores returns n stores on one fresh file, each with its own
// database handle, like n processes on one host.
func newStores(t *testing.T, n int) []tokencache.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.db")
	stores := make([]tokencache.Store, n)
	for i := range stores {
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
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

// Tokens survive closing every handle; the table can share the file with
// other tables.
func TestTokensSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, Table: "partner_tokens"})
	require.NoError(t, err)
	tok := tokencache.Token{Value: "v", Type: "Bearer", Expiry: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
	require.NoError(t, s.Save(ctx, "k", tok))
	require.NoError(t, s.Close())

	s, err = sqlite.Open(ctx, sqlite.Config{Path: path, Table: "partner_tokens"})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	got, err := s.Load(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, tok.Value, got.Value)
	assert.True(t, tok.Expiry.Equal(got.Expiry))
}

// A lock expires on the store's clock, whatever the wall clock says.
func TestLockExpiresOnTheStoresClock(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "t.db"), Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ok, err := s.TryLock(ctx, "k", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	now = now.Add(59 * time.Second)
	ok, err = s.TryLock(ctx, "k", "b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "held for a minute")
	now = now.Add(time.Second)
	ok, err = s.TryLock(ctx, "k", "b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "expired")
}

// Bad paths, names and timeouts are errors at Open, and nothing is
// created or replaced on disk.
func TestOpenRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notDB, []byte("not a database, a text file someone pointed at\n"), 0o644))
	readOnly := filepath.Join(dir, "ro.db")
	require.NoError(t, os.WriteFile(readOnly, nil, 0o444))
	for _, tc := range []struct {
		name string
		cfg  sqlite.Config
		want string
	}{
		{"empty path", sqlite.Config{}, "Path is required"},
		{"missing directory", sqlite.Config{Path: filepath.Join(dir, "missing", "t.db")}, "directory"},
		{"uri", sqlite.Config{Path: "file:t.db?mode=memory"}, "plain file path"},
		{"memory", sqlite.Config{Path: ":memory:"}, "plain file path"},
		{"read-only", sqlite.Config{Path: readOnly}, "read-only"},
		{"not a database", sqlite.Config{Path: notDB}, "create table"},
		{"bad table", sqlite.Config{Path: filepath.Join(dir, "t.db"), Table: `x"; DROP TABLE y; --`}, "Config.Table"},
		{"long table", sqlite.Config{Path: filepath.Join(dir, "t.db"), Table: strings.Repeat("t", 64)}, "Config.Table"},
		{"negative timeout", sqlite.Config{Path: filepath.Join(dir, "t.db"), BusyTimeout: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlite.Open(ctx, tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	b, err := os.ReadFile(notDB)
	require.NoError(t, err)
	assert.Equal(t, "not a database, a text file someone pointed at\n", string(b), "the foreign file is untouched")
	_, err = os.Stat(filepath.Join(dir, "t.db"))
	assert.True(t, os.IsNotExist(err), "no file created for a bad config")
}
