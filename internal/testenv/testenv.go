// Package testenv gives tests the real PostgreSQL and Redis servers they run
// against, and unique names so tests never share a schema or key prefix.
//
// Outside CI an unset variable skips the test with a message saying how to
// run it; with CI=true it fails the test, so a misconfigured CI cannot pass
// by skipping.
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
// is unset the test is skipped, or failed if CI=true.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return lookup(t, PostgresEnv, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// RedisAddr returns the Redis address from OUTBOUND_REDIS_ADDR. When it is
// unset the test is skipped, or failed if CI=true.
func RedisAddr(t testing.TB) string {
	t.Helper()
	return lookup(t, RedisEnv, "127.0.0.1:6379")
}

func lookup(t testing.TB, name, example string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set but CI=true: real-server tests must run in CI (see .ci/run)", name)
	}
	t.Skipf("%s is not set; run with %s=%s to test against a real server", name, name, example)
	return ""
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// UniqueName returns a lower-case identifier that starts with prefix, names
// the test, and ends with random hex, safe to use as a PostgreSQL schema
// name or a Redis key prefix. It is at most 63 bytes (PostgreSQL's limit).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	name := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	suffix := "_" + hex.EncodeToString(b[:])
	max := 63 - len(prefix) - 1 - len(suffix)
	if len(name) > max {
		name = name[len(name)-max:]
	}
	return prefix + "_" + strings.Trim(name, "_") + suffix
}
