// Package modcheck holds the tests that keep the repository's module
// boundaries honest; it has no code of its own.
//
// The root module github.com/outbound-go/outbound promises its importers a
// small dependency graph: golang.org/x/sync, golang.org/x/time,
// github.com/sony/gobreaker/v2, github.com/golang-jwt/jwt/v5 and
// golang.org/x/oauth2, plus testify and goleak for its tests. Adapters with
// heavy dependencies (pgx, go-redis, the Prometheus client, and later
// OpenTelemetry, SQLite drivers and browser test drivers) are modules of
// their own in this repository. The tests run the go command with
// GOWORK=off, so they see each module as its users do, and fail when
//
//   - the root module's graph (go mod graph) names a heavy dependency,
//   - the root go.mod requires a module outside the core list,
//   - the program in coreonly, which imports only delivery, retry and
//     classify, needs more than the core list in its go.mod, or does not
//     build, or
//   - a module of the repository is missing from go.work, so that
//     `go test work` would not run its tests.
//
// Without the go command on PATH the tests skip with a message (and fail
// in CI).
package modcheck
