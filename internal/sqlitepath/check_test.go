package sqlitepath_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/sqlitepath"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.db")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	ro := filepath.Join(dir, "ro.db")
	require.NoError(t, os.WriteFile(ro, nil, 0o444))

	require.NoError(t, sqlitepath.Check(filepath.Join(dir, "new.db")), "a new file in an existing directory")
	require.NoError(t, sqlitepath.Check(file), "an existing writable file")
	_, err := os.Stat(filepath.Join(dir, "new.db"))
	assert.True(t, errors.Is(err, fs.ErrNotExist), "Check creates nothing")

	for _, tc := range []struct {
		path, want string
		is         error
	}{
		{"", "required", sqlitepath.ErrBadPath},
		{":memory:", "plain file path", sqlitepath.ErrBadPath},
		{"file:x.db", "plain file path", sqlitepath.ErrBadPath},
		{file + "?mode=ro", "plain file path", sqlitepath.ErrBadPath},
		{filepath.Join(dir, "missing", "x.db"), "directory", fs.ErrNotExist},
		{filepath.Join(file, "x.db"), "not a directory", sqlitepath.ErrBadPath},
		{dir, "not a regular file", sqlitepath.ErrBadPath},
		{ro, "read-only", sqlitepath.ErrBadPath},
	} {
		err := sqlitepath.Check(tc.path)
		require.Error(t, err, tc.path)
		assert.Contains(t, err.Error(), tc.want, tc.path)
		assert.ErrorIs(t, err, tc.is, tc.path)
	}
}

func ExampleCheck() {
	err := sqlitepath.Check(":memory:")
	fmt.Println(errors.Is(err, sqlitepath.ErrBadPath))
	// Output: true
}
