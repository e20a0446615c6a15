package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(testenv.Postgres)
	goleak.VerifyTestMain(m)
}

// Each format writes one file per migration (one script for sql), named
// as its tool expects, holding the rendered SQL with the tool's framing.
func TestFormatsWriteTheToolsFiles(t *testing.T) {
	ms, err := postgres.Migrations("billing", "events")
	require.NoError(t, err)
	for _, tc := range []struct {
		format string
		name   func(postgres.Migration) string
		frame  []string
	}{
		{"goose", func(m postgres.Migration) string { return m.Name }, []string{"-- +goose Up\n-- +goose StatementBegin\n", "-- +goose StatementEnd\n"}},
		{"migrate", func(m postgres.Migration) string { return strings.TrimSuffix(m.Name, ".sql") + ".up.sql" }, []string{"BEGIN;\n", "COMMIT;\n"}},
		{"atlas", func(m postgres.Migration) string { return m.Name }, nil},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			require.NoError(t, run([]string{"-format", tc.format, "-schema", "billing", "-table", "events", "-dir", dir}, &stdout, &stderr))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, len(ms))
			for _, m := range ms {
				b, err := os.ReadFile(filepath.Join(dir, tc.name(m)))
				require.NoError(t, err)
				text := string(b)
				assert.Contains(t, text, m.SQL)
				for _, f := range tc.frame {
					assert.Contains(t, text, f)
				}
				assert.Contains(t, text, `"billing"."events`, "rendered for the outbox's own schema and table names")
			}
		})
	}
	var stdout, stderr bytes.Buffer
	require.NoError(t, run([]string{"-schema", "billing", "-table", "events"}, &stdout, &stderr))
	for _, m := range ms {
		assert.Contains(t, stdout.String(), m.SQL, "the sql format prints every migration")
	}
}

// -channel and -grant print NotifyChannel's and GrantSQL's answers; bad
// input is an error, and nothing is written.
func TestChannelGrantAndBadInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run([]string{"-channel", "-schema", "s", "-table", "t"}, &stdout, &stderr))
	c, err := postgres.NotifyChannel("s", "t")
	require.NoError(t, err)
	assert.Equal(t, c+"\n", stdout.String())

	stdout.Reset()
	require.NoError(t, run([]string{"-grant", "app"}, &stdout, &stderr))
	g, err := postgres.GrantSQL("", "", "app")
	require.NoError(t, err)
	assert.Equal(t, g, stdout.String())

	dir := t.TempDir()
	for _, args := range [][]string{
		{"-format", "flyway", "-dir", dir},
		{"-schema", "Bad", "-dir", dir},
		{"-grant", "a\x00b"},
		{"-channel", "-table", "x-y"},
		{"extra"},
		{"-dir", filepath.Join(dir, "missing")},
	} {
		stdout.Reset()
		assert.Error(t, run(args, &stdout, &stderr), "%q", args)
		assert.Empty(t, stdout.String(), "%q", args)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
