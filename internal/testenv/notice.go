package testenv

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Server is a real server that some of a package's tests need.
type Server struct {
	// Name is what a person calls it: "PostgreSQL".
	Name string
	// Env is the variable that points the tests at it.
	Env string
	// Addr is its default local address, probed to tell a developer that
	// a server is there to be used.
	Addr string
	// Example is the value of Env that reaches a server on Addr.
	Example string
}

// The servers the tests use.
var (
	// Postgres is PostgreSQL, reached through OUTBOUND_POSTGRES_URL.
	Postgres = Server{Name: "PostgreSQL", Env: PostgresEnv, Addr: "127.0.0.1:5432",
		Example: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}
	// Redis is Redis, reached through OUTBOUND_REDIS_ADDR.
	Redis = Server{Name: "Redis", Env: RedisEnv, Addr: "127.0.0.1:6379", Example: "127.0.0.1:6379"}
)

// probeTimeout bounds the dial that checks whether a server answers on its
// default local address.
const probeTimeout = 300 * time.Millisecond

// AnnounceSkips says, before a package's tests run, which of servers they
// will skip because its variable is unset, and the exact command that runs
// them: one line per server, naming the package. When a server answers on
// its default local address the line says so, since the tests can then run
// at once. Call it first thing in TestMain:
//
//	func TestMain(m *testing.M) {
//		testenv.AnnounceSkips(testenv.Postgres)
//		goleak.VerifyTestMain(m)
//	}
//
// It prints nothing in CI (see InCI), where those tests fail instead of
// skipping, nor for a server whose variable is set.
//
// `go test ./...` shows a passing package's output only with -v: it
// prints just "ok  <package>  0.01s". So the lines also go to the go
// command's own standard error when that is a terminal or a pipe (found
// through /proc on Linux; elsewhere, and when it is a file, only -v shows
// them). A result that go test serves from its cache ("(cached)") was not
// run, and prints nothing.
func AnnounceSkips(servers ...Server) {
	w := io.Writer(os.Stdout)
	if verbose(os.Args[1:]) {
		// go test -v (and -json) shows the binary's output already.
	} else if f := goCommandStderr(); f != nil {
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	WriteSkips(w, servers...)
}

// verbose reports whether args, a test binary's arguments, ask for
// verbose output (-test.v, -test.v=true, or -test.v=test2json for go test
// -json), which go test shows whether the package passes or not.
func verbose(args []string) bool {
	for _, a := range args {
		a = strings.TrimPrefix(a, "-")
		if a == "-test.v" || a == "test.v" {
			return true
		}
		if v, ok := strings.CutPrefix(a, "test.v="); ok {
			return v != "false"
		}
		if v, ok := strings.CutPrefix(a, "-test.v="); ok {
			return v != "false"
		}
	}
	return false
}

// WriteSkips writes AnnounceSkips' lines, for the package in the current
// directory, to w.
func WriteSkips(w io.Writer, servers ...Server) {
	if InCI() {
		return
	}
	dir, err := os.Getwd()
	if err != nil {
		return
	}
	for _, line := range SkipNotice(packagePath(dir), servers, os.Getenv, answers) {
		_, _ = io.WriteString(w, line+"\n")
	}
}

// SkipNotice returns AnnounceSkips' lines for the package at pkg (a path
// relative to the module root, such as "./delivery/postgres/"), reading
// variables with getenv and probing addresses with answers.
func SkipNotice(pkg string, servers []Server, getenv func(string) string, answers func(addr string) bool) []string {
	var lines []string
	for _, s := range servers {
		if getenv(s.Env) != "" {
			continue
		}
		cmd := fmt.Sprintf("%s='%s' go test %s", s.Env, s.Example, pkg)
		where := fmt.Sprintf("start %s and run them with: %s", s.Name, cmd)
		if answers(s.Addr) {
			where = fmt.Sprintf("%s answers on %s: %s", s.Name, s.Addr, cmd)
		}
		lines = append(lines, fmt.Sprintf("SKIP  %s: the tests that need %s did not run (%s is not set); %s", pkg, s.Name, s.Env, where))
	}
	return lines
}

// answers reports whether something accepts TCP connections on addr.
func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// packagePath returns dir relative to the root the go command is run
// from, as go test takes it: the workspace (the nearest directory above
// with a go.work), else the module holding dir (the nearest with a
// go.mod): "./delivery/postgres/", or "./" for the root. Without either it
// returns dir.
func packagePath(dir string) string {
	for _, marker := range []string{"go.work", "go.mod"} {
		if root, ok := above(dir, marker); ok {
			rel, err := filepath.Rel(root, dir)
			switch {
			case err != nil:
				return dir
			case rel == ".":
				return "./"
			}
			return "./" + filepath.ToSlash(rel) + "/"
		}
	}
	return dir
}

// above returns the nearest directory from dir upwards that holds a file
// named name.
func above(dir, name string) (string, bool) {
	for root := dir; ; {
		if _, err := os.Stat(filepath.Join(root, name)); err == nil {
			return root, true
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", false
		}
		root = parent
	}
}

// goCommandStderr opens the standard error of the process that started
// this test binary (the go command, under go test), when it is a terminal
// or a pipe and not where this binary's own standard output goes already.
// A regular file is left alone: the go command's own writes, at its own
// offset, would overwrite what was appended. It returns nil when there is
// nothing suitable.
func goCommandStderr() *os.File {
	path := fmt.Sprintf("/proc/%d/fd/2", os.Getppid())
	info, err := os.Stat(path)
	if err != nil || info.Mode()&(os.ModeCharDevice|os.ModeNamedPipe) == 0 {
		return nil
	}
	if own, err := os.Stdout.Stat(); err == nil && os.SameFile(own, info) {
		return nil // output goes there already: a binary run by hand, or go test in local directory mode
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	return f
}
