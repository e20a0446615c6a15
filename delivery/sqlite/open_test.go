package sqlite_test

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// TestOpenRejectsBadInput checks that every bad path or file is a clear
// error at Open, and that nothing is created or replaced on disk.
func TestOpenRejectsBadInput(t *testing.T) {
	garbage := []byte("this is not a SQLite database, it is a text file that someone pointed at\n")
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns the path to open
		want    string                                // in the error text
		wantErr error                                 // in the error chain, if set
		check   func(t *testing.T, path string)       // what must still hold on disk
	}{
		{
			name:    "directory does not exist",
			setup:   func(_ *testing.T, dir string) string { return filepath.Join(dir, "missing", "outbox.db") },
			want:    "directory",
			wantErr: fs.ErrNotExist,
			check: func(t *testing.T, path string) {
				_, err := os.Stat(filepath.Dir(path))
				assert.ErrorIs(t, err, fs.ErrNotExist, "the directory is not created")
			},
		},
		{
			name: "read-only file",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "outbox.db")
				s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
				require.NoError(t, err)
				_, err = s.Enqueue(context.Background(), delivery.Message{ID: "kept", Payload: []byte("x")})
				require.NoError(t, err)
				require.NoError(t, s.Close())
				require.NoError(t, os.Chmod(path, 0o400))
				return path
			},
			want:    "read-only",
			wantErr: delivery.ErrInvalid,
			check: func(t *testing.T, path string) {
				require.NoError(t, os.Chmod(path, 0o600))
				s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
				require.NoError(t, err)
				defer s.Close()
				_, err = s.Get(context.Background(), "kept")
				assert.NoError(t, err, "the outbox is intact once writable again")
			},
		},
		{
			name: "not a database",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "outbox.db")
				require.NoError(t, os.WriteFile(path, garbage, 0o600))
				return path
			},
			want: "not a database",
			check: func(t *testing.T, path string) {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, garbage, b, "the file is left as it was")
			},
		},
		{
			name: "newer schema version",
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, "outbox.db")
				s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
				require.NoError(t, err)
				_, err = s.Enqueue(context.Background(), delivery.Message{ID: "kept", Payload: []byte("x")})
				require.NoError(t, err)
				require.NoError(t, s.Close())
				db, err := sql.Open("sqlite", path)
				require.NoError(t, err)
				defer db.Close()
				_, err = db.Exec(`INSERT INTO outbox_schema_version (version) VALUES (?)`, sqlite.SchemaVersion+1)
				require.NoError(t, err)
				return path
			},
			want:    "use a newer release",
			wantErr: sqlite.ErrNewerSchema,
			check: func(t *testing.T, path string) {
				db, err := sql.Open("sqlite", path)
				require.NoError(t, err)
				defer db.Close()
				var n int
				require.NoError(t, db.QueryRow(`SELECT count(*) FROM outbox_records WHERE id = 'kept'`).Scan(&n))
				assert.Equal(t, 1, n, "the newer outbox keeps its records")
				require.NoError(t, db.QueryRow(`SELECT max(version) FROM outbox_schema_version`).Scan(&n))
				assert.Equal(t, sqlite.SchemaVersion+1, n, "and its version")
			},
		},
		{
			name:    "empty path",
			setup:   func(*testing.T, string) string { return "" },
			want:    "Path is required",
			wantErr: delivery.ErrInvalid,
		},
		{
			name:    "a directory",
			setup:   func(_ *testing.T, dir string) string { return dir },
			want:    "not a regular file",
			wantErr: delivery.ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tc.want)
			assert.Regexp(t, "^sqlite: ", err.Error())
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
			}
			if tc.check != nil {
				tc.check(t, path)
			}
		})
	}
}

func TestOpenRejectsNegativeBusyTimeout(t *testing.T) {
	_, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "o.db"), BusyTimeout: -1})
	require.ErrorIs(t, err, delivery.ErrInvalid)
}

// TestReopenKeepsRecords checks that records survive closing and opening
// the file again.
func TestReopenKeepsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	require.NoError(t, err)
	_, err = s.Enqueue(context.Background(), delivery.Message{ID: "a", Key: "k", Payload: []byte("x"), Headers: map[string]string{"X-A": "1"}})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, path, nil)
	r, err := s.Get(context.Background(), "a")
	require.NoError(t, err)
	assert.Equal(t, delivery.StatePending, r.State)
	assert.Equal(t, map[string]string{"X-A": "1"}, r.Headers)
}
