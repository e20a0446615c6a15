// Package testenv gives tests the real PostgreSQL and Redis servers they run
// against, and unique names so tests never share a schema or key prefix.
//
// Outside CI an unset variable skips the test with a message saying how to
// run it, and AnnounceSkips, called from TestMain, says so in a plain
// `go test ./...` run too (where a skipped test's message is not shown);
// in CI (CI=true, CI=1 or any value strconv.ParseBool reads as
// true) it fails the test, so a misconfigured CI cannot pass by skipping.
//
//	func TestStore(t *testing.T) {
//		url := testenv.PostgresURL(t)
//		schema := testenv.UniqueName(t, "outbox")
//		...
//	}
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const (
	// PostgresEnv names the variable holding a PostgreSQL connection URL.
	PostgresEnv = "OUTBOUND_POSTGRES_URL"
	// RedisEnv names the variable holding a Redis address (host:port).
	RedisEnv = "OUTBOUND_REDIS_ADDR"
)

// PostgresURL returns the PostgreSQL URL from OUTBOUND_POSTGRES_URL. When it
// is unset the test is skipped, or failed in CI (see InCI).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return lookup(t, Postgres)
}

// RedisAddr returns the Redis address from OUTBOUND_REDIS_ADDR. When it is
// unset the test is skipped, or failed in CI (see InCI).
func RedisAddr(t testing.TB) string {
	t.Helper()
	return lookup(t, Redis)
}

// InCI reports whether the tests run in CI: CI is set to a value
// strconv.ParseBool reads as true ("true", "True", "TRUE", "1", "t"), or to
// a value it cannot read at all ("yes"), since a CI that sets CI to
// anything must not pass by skipping. CI unset, empty or false ("false",
// "0") is a developer's machine.
func InCI() bool {
	v := os.Getenv("CI")
	if v == "" {
		return false
	}
	ci, err := strconv.ParseBool(v)
	return ci || err != nil
}

func lookup(t testing.TB, s Server) string {
	t.Helper()
	name, example := s.Env, s.Example
	if v := os.Getenv(name); v != "" {
		return v
	}
	if InCI() {
		t.Fatalf("%s is not set but CI=%s: real-server tests must run in CI (see .ci/run)", name, os.Getenv("CI"))
	}
	t.Skipf("%s is not set; run with %s=%s to test against a real server", name, name, example)
	return ""
}

var (
	unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)
	identifier  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

const (
	// maxName is PostgreSQL's limit on identifiers (NAMEDATALEN-1).
	maxName = 63
	// MaxPrefix is the longest prefix UniqueName takes, leaving room for
	// the test's name and the random suffix.
	MaxPrefix = 32
)

// UniqueName returns a lower-case identifier that starts with prefix, names
// the test, and ends with random hex, safe to use as a PostgreSQL schema
// name or a Redis key prefix. It is at most 63 bytes (PostgreSQL's limit);
// a long test name is cut from the front, keeping its most specific part.
// prefix must be a lower-case identifier ([a-z_][a-z0-9_]*) of at most
// MaxPrefix bytes; otherwise the test fails with a message saying so.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	if len(prefix) > MaxPrefix || !identifier.MatchString(prefix) {
		t.Fatalf("testenv: UniqueName prefix %q must be a lower-case identifier ([a-z_][a-z0-9_]*) of at most %d bytes", prefix, MaxPrefix)
		return ""
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
		return ""
	}
	suffix := "_" + hex.EncodeToString(b[:])
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if room := maxName - len(prefix) - 1 - len(suffix); len(name) > room {
		name = name[len(name)-room:]
	}
	if name = strings.Trim(name, "_"); name == "" {
		return prefix + suffix
	}
	return prefix + "_" + name + suffix
}
