package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The quickstart on a SQLite file: every record accounted for, the file
// removed afterwards; an existing file is refused and left as it is.
func TestQuickstartSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	cfg, err := parseFlags([]string{"-store", "sqlite:" + path}, &bytes.Buffer{})
	require.NoError(t, err)
	small := small()
	small.sqlite = cfg.sqlite
	// The SQLite driver is C translated to Go: under the race detector
	// every statement is instrumented and a write costs tens of
	// milliseconds, so this run is smaller and may take longer (it takes
	// about a second without the race detector).
	small.records, small.timeout = 150, 5*time.Minute
	var out bytes.Buffer
	sum, err := run(context.Background(), small, &out)
	require.NoError(t, err, out.String())
	assertSummary(t, small, sum, out.String())
	assert.Contains(t, out.String(), "outbox: SQLite "+path)
	_, err = os.Stat(path)
	assert.True(t, os.IsNotExist(err), "the file is removed without -keep")

	require.NoError(t, os.WriteFile(path, []byte("mine"), 0o644))
	_, err = run(context.Background(), small, &out)
	require.ErrorContains(t, err, "exists")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "mine", string(b), "an existing file is never touched")
}

// -store's spellings, and -postgres as the older one.
func TestStoreFlag(t *testing.T) {
	for _, tc := range []struct {
		args             []string
		postgres, sqlite string
	}{
		{nil, "", ""},
		{[]string{"-store", "memory"}, "", ""},
		{[]string{"-store", "sqlite:/tmp/x.db"}, "", "/tmp/x.db"},
		{[]string{"-store", "postgres:postgres://h/db"}, "postgres://h/db", ""},
		{[]string{"-postgres", "postgres://h/db"}, "postgres://h/db", ""},
	} {
		cfg, err := parseFlags(tc.args, &bytes.Buffer{})
		require.NoError(t, err, "%q", tc.args)
		assert.Equal(t, tc.postgres, cfg.postgres, "%q", tc.args)
		assert.Equal(t, tc.sqlite, cfg.sqlite, "%q", tc.args)
	}
	for _, bad := range [][]string{
		{"-store", "redis:x"}, {"-store", "sqlite:"}, {"-store", "postgres:"},
		{"-store", "sqlite:/tmp/x.db", "-postgres", "postgres://h/db"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(bad, &stderr)
		require.Error(t, err, "%q", bad)
		assert.Contains(t, stderr.String(), "-store", "%q", bad)
	}
}
