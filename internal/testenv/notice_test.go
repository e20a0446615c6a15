package testenv_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

func TestSkipNotice(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(name string) string { return vars[name] }
	}
	up := func(addrs ...string) func(string) bool {
		return func(addr string) bool {
			for _, a := range addrs {
				if a == addr {
					return true
				}
			}
			return false
		}
	}
	const pg = "SKIP  ./delivery/postgres/: the tests that need PostgreSQL did not run (OUTBOUND_POSTGRES_URL is not set); "
	const pgCmd = "OUTBOUND_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./delivery/postgres/"
	for _, tc := range []struct {
		name    string
		servers []testenv.Server
		vars    map[string]string
		answers func(string) bool
		want    []string
	}{
		{"unset, nothing answers", []testenv.Server{testenv.Postgres}, nil, up(),
			[]string{pg + "start PostgreSQL and run them with: " + pgCmd}},
		{"unset, the server answers locally", []testenv.Server{testenv.Postgres}, nil, up("127.0.0.1:5432"),
			[]string{pg + "PostgreSQL answers on 127.0.0.1:5432: " + pgCmd}},
		{"set", []testenv.Server{testenv.Postgres}, map[string]string{testenv.PostgresEnv: "postgres://db/x"}, up("127.0.0.1:5432"), nil},
		{"two servers, one set", []testenv.Server{testenv.Postgres, testenv.Redis}, map[string]string{testenv.PostgresEnv: "postgres://db/x"}, up("127.0.0.1:6379"),
			[]string{"SKIP  ./delivery/postgres/: the tests that need Redis did not run (OUTBOUND_REDIS_ADDR is not set); Redis answers on 127.0.0.1:6379: OUTBOUND_REDIS_ADDR='127.0.0.1:6379' go test ./delivery/postgres/"}},
		{"two servers unset: one line each", []testenv.Server{testenv.Postgres, testenv.Redis}, nil, up(),
			[]string{pg + "start PostgreSQL and run them with: " + pgCmd,
				"SKIP  ./delivery/postgres/: the tests that need Redis did not run (OUTBOUND_REDIS_ADDR is not set); start Redis and run them with: OUTBOUND_REDIS_ADDR='127.0.0.1:6379' go test ./delivery/postgres/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, testenv.SkipNotice("./delivery/postgres/", tc.servers, env(tc.vars), tc.answers))
		})
	}
}

// The real probe: a listener answers, a closed port does not. The command
// printed for a package is relative to its module root.
func TestWriteSkipsPrintsTheRealCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.test\n"), 0o600))
	pkg := filepath.Join(root, "a", "b")
	require.NoError(t, os.MkdirAll(pkg, 0o700))
	t.Chdir(pkg)
	t.Setenv("CI", "")
	t.Setenv(testenv.PostgresEnv, "")
	t.Setenv(testenv.RedisEnv, "")

	var out strings.Builder
	testenv.WriteSkips(&out, testenv.Server{Name: "PostgreSQL", Env: testenv.PostgresEnv, Addr: addr, Example: "postgres://x"})
	assert.Equal(t, "SKIP  ./a/b/: the tests that need PostgreSQL did not run (OUTBOUND_POSTGRES_URL is not set); start PostgreSQL and run them with: OUTBOUND_POSTGRES_URL='postgres://x' go test ./a/b/\n", out.String())

	t.Chdir(root)
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	out.Reset()
	testenv.WriteSkips(&out, testenv.Server{Name: "Redis", Env: testenv.RedisEnv, Addr: ln.Addr().String(), Example: "r:1"})
	assert.Contains(t, out.String(), "SKIP  ./: ")
	assert.Contains(t, out.String(), "Redis answers on "+ln.Addr().String()+": OUTBOUND_REDIS_ADDR='r:1' go test ./\n")

	t.Setenv("CI", "true") // in CI the tests fail instead, and nothing is announced
	out.Reset()
	testenv.WriteSkips(&out, testenv.Postgres, testenv.Redis)
	assert.Empty(t, out.String())
}
