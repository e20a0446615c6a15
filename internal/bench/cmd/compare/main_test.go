package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/internal/bench"
	"github.com/outbound-go/outbound/internal/testenv"
)

func TestMain(m *testing.M) {
	if bench.IsFleetChild() { // a dispatcher process of the fleet comparison
		os.Exit(bench.RunFleetChild())
	}
	if bench.IsChaosChild() { // the dispatcher process of the chaos comparison
		os.Exit(bench.RunChaosChild())
	}
	if bench.IsScaleChild() { // the draining dispatcher process of the scale comparison
		os.Exit(bench.RunScaleChild())
	}
	goleak.VerifyTestMain(m)
}

func quick(t *testing.T, args ...string) (options, *bytes.Buffer) {
	t.Helper()
	o, err := parseFlags(append([]string{"-quick"}, args...))
	require.NoError(t, err)
	var out bytes.Buffer
	o.out, o.progress = &out, io.Discard
	return o, &out
}

// run's quick mode is what CI runs: every comparison prints its table with
// a row per contender and no failures.
func TestQuickRunPrintsEveryTable(t *testing.T) {
	url := testenv.PostgresURL(t)
	o, out := quick(t, "-pg", url)
	require.NoError(t, run(context.Background(), o))
	s := out.String()
	for _, want := range []string{
		"Machine: ", "CPUs",
		"### 1. Pipeline overhead", "| outbound |", "| failsafe-go |", "| backoff/v5 + gobreaker/v2 |", "| go-retryablehttp (policy check only) |",
		"### 2. HTTP POST", "| net/http (bare) | ", "1.00×", "| outbound, default client (25 conns/host) | – |",
		"| outbound resilient (RoundTripper) |", "| go-retryablehttp (StandardClient) |",
		"### 3. Durable throughput", "| outbound postgres + Dispatcher |", "| River (InsertMany) |", "| River (InsertManyFast, COPY) |",
		"### 4. Dispatcher on the in-memory store", "| independent | 1 |", "| independent | 16 |", "| 100 keys | 16 |",
		"### 5. Token cache hit path", "| outbound tokencache |", "| x/oauth2 ReuseTokenSource |",
		"Load average at the end",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "failed")
	assert.Contains(t, s, "`go run ./cmd/compare -quick -pg URL`")
	assert.NotContains(t, s, url, "a database URL may hold a password")
}

func TestDurableWithoutPostgres(t *testing.T) {
	o, out := quick(t, "-only", "durable", "-pg", "")
	t.Setenv("CI", "")
	require.NoError(t, durable(context.Background(), o))
	assert.Contains(t, out.String(), "Skipped: set OUTBOUND_POSTGRES_URL")

	t.Setenv("CI", "true")
	assert.ErrorContains(t, durable(context.Background(), o), "CI=true")
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-only", "http, token", "-count", "3"})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"http": true, "token": true}, o.only)
	assert.Equal(t, 3, o.count)
	assert.Equal(t, 50_000, o.jobs)

	o, err = parseFlags([]string{"-quick", "-jobs", "9"})
	require.NoError(t, err)
	assert.Equal(t, "1x", o.benchtime)
	assert.Equal(t, 200, o.jobs, "-quick wins")

	_, err = parseFlags([]string{"-only", "disk"})
	assert.ErrorContains(t, err, `unknown comparison "disk"`)
	_, err = parseFlags([]string{"-count", "0"})
	assert.ErrorContains(t, err, "must be positive")
	_, err = parseFlags([]string{"-records", "0"})
	assert.ErrorContains(t, err, "must be positive")

	o, err = parseFlags([]string{"-only", "dispatcher", "-records", "5000"})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"dispatcher": true}, o.only)
	assert.Equal(t, 5000, o.records)
}

func TestShownArgsHideTheDatabaseURL(t *testing.T) {
	secret := "postgres://u:hunter2@db/x"
	assert.Equal(t, []string{"-quick", "-pg", "URL"}, shownArgs([]string{"-quick", "-pg", secret}))
	assert.Equal(t, []string{"--pg=URL", "-count", "3"}, shownArgs([]string{"--pg=" + secret, "-count", "3"}))
}

func TestTable(t *testing.T) {
	tb := table{head: []string{"a", "b", "c"}}
	tb.add("x", "1")
	var out strings.Builder
	tb.write(&out)
	assert.Equal(t, "| a | b | c |\n| --- | ---: | ---: |\n| x | 1 |  |\n", out.String())
}

func TestRatioAndBestPeer(t *testing.T) {
	assert.Equal(t, "0.50×", ratio(1, 2))
	assert.Equal(t, "–", ratio(1, 0))
	vals := []float64{1, 4, 2, 0.5}
	cs := make([]bench.Contender, 4)
	cs[3].Partial = true
	get := func(i int) (float64, bool) { return vals[i], true }
	assert.Equal(t, 2.0, bestPeer(cs, get, lowerIsBetter), "ours (index 0) and partial rows are not peers")
	assert.Equal(t, 4.0, bestPeer(cs, get, higherIsBetter))
}

// The fleet comparison takes minutes: it runs only when named.
func TestFleetOnlyWhenNamed(t *testing.T) {
	for _, args := range [][]string{nil, {"-quick"}} {
		o, err := parseFlags(args)
		require.NoError(t, err)
		assert.False(t, o.only["fleet"], "%v", args)
		assert.True(t, o.only["durable"], "%v", args)
	}
	o, err := parseFlags([]string{"-only", "fleet"})
	require.NoError(t, err)
	assert.True(t, o.only["fleet"])
	assert.Equal(t, time.Minute, o.fleet.Duration)
	assert.Equal(t, 4, o.fleet.Processes)
	for _, bad := range []string{"-fleet-duration=0s", "-fleet-processes=0", "-fleet-window=-1s"} {
		_, err := parseFlags([]string{"-only", "fleet", bad})
		assert.Error(t, err, bad)
	}
}

// The chaos comparison starts a PostgreSQL server and takes minutes: it
// runs only when named.
func TestChaosOnlyWhenNamed(t *testing.T) {
	for _, args := range [][]string{nil, {"-quick"}, {"-only", "fleet"}} {
		o, err := parseFlags(args)
		require.NoError(t, err)
		assert.False(t, o.only["chaos"], "%v", args)
	}
	o, err := parseFlags([]string{"-only", "chaos", "-chaos-pgbin", "/opt/pg/bin", "-chaos-records", "90"})
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"chaos": true}, o.only)
	assert.Equal(t, "/opt/pg/bin", o.chaos.PGBin)
	assert.Equal(t, 90, o.chaos.Records)
	assert.Equal(t, bench.ChaosContenders(), o.chaosQueues, "outbound and River by default")
	o, err = parseFlags([]string{"-only", "chaos", "-chaos-queues", "outbound"})
	require.NoError(t, err)
	assert.Equal(t, bench.ChaosContenders()[:1], o.chaosQueues)
	_, err = parseFlags([]string{"-only", "chaos", "-chaos-queues", "outbound,sidekiq"})
	assert.ErrorContains(t, err, `unknown queue "sidekiq"`)
	_, err = parseFlags([]string{"-only", "chaos", "-chaos-records", "2"})
	assert.ErrorContains(t, err, "-chaos-records")
}

// Without the PostgreSQL server binaries the chaos section fails and
// says what to install.
func TestChaosWithoutPostgresBinaries(t *testing.T) {
	o, err := parseFlags([]string{"-only", "chaos", "-chaos-pgbin", t.TempDir()})
	require.NoError(t, err)
	var out bytes.Buffer
	o.out, o.progress = &out, io.Discard
	err = chaos(context.Background(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PostgreSQL server binaries")
	assert.Contains(t, out.String(), "Failed: ")
}

// A short fleet section prints a row and a series of windows for every
// contender, none failed.
func TestFleetSection(t *testing.T) {
	url := testenv.PostgresURL(t)
	o, err := parseFlags([]string{"-only", "fleet", "-pg", url, "-fleet-duration", "1s", "-fleet-window", "500ms", "-fleet-processes", "2"})
	require.NoError(t, err)
	var out bytes.Buffer
	o.out, o.progress = &out, io.Discard
	o.fleet.ChildArgs = []string{"-test.run=^$"}
	require.NoError(t, fleet(context.Background(), o))
	s := out.String()
	assert.Contains(t, s, "### 6. Fleet-wide rate limit: 2 processes")
	for _, c := range bench.FleetContenders(20) {
		assert.Contains(t, s, "| "+c.Name+" |")
		assert.Contains(t, s, "- "+c.Name+": ")
	}
	assert.NotContains(t, s, "failed")
}

// The end-to-end comparison takes minutes: it runs only when named.
func TestE2EOnlyWhenNamed(t *testing.T) {
	for _, args := range [][]string{nil, {"-quick"}} {
		o, err := parseFlags(args)
		require.NoError(t, err)
		assert.False(t, o.only["e2e"], "%v", args)
	}
	o, err := parseFlags([]string{"-only", "e2e"})
	require.NoError(t, err)
	assert.True(t, o.only["e2e"])
	assert.Equal(t, 10_000, o.e2e.Records)
	assert.Equal(t, 16, o.e2e.Concurrency)
	assert.Equal(t, 5*time.Second, o.e2e.DownFor)
	assert.Equal(t, time.Second, o.e2e.AttemptTimeout, "defaults filled in for the footnote")
	for _, bad := range []string{"-e2e-records=1", "-e2e-concurrency=0", "-e2e-down=0s"} {
		_, err := parseFlags([]string{"-only", "e2e", bad})
		assert.Error(t, err, bad)
	}
}

// A short end-to-end section prints a row for every stack, none failed.
func TestE2ESection(t *testing.T) {
	url := testenv.PostgresURL(t)
	o, err := parseFlags([]string{"-only", "e2e", "-pg", url, "-e2e-records", "100", "-e2e-concurrency", "4", "-e2e-down", "1s"})
	require.NoError(t, err)
	var out bytes.Buffer
	o.out, o.progress = &out, io.Discard
	require.NoError(t, e2e(context.Background(), o))
	s := out.String()
	assert.Contains(t, s, "### 7. End to end: 100 records")
	for _, c := range bench.E2EContenders() {
		assert.Contains(t, s, "| "+c.Name+" |")
	}
	assert.Contains(t, s, "| 1.00× |", "River's row against itself")
	assert.NotContains(t, s, "failed")
}

// Ratios pair each run with the reference's run of the same round: a
// round under heavy load slows both and leaves the ratio alone.
func TestPairedRatio(t *testing.T) {
	run := func(n int, d time.Duration) testing.BenchmarkResult { return testing.BenchmarkResult{N: n, T: d} }
	ref := &result{rounds: []testing.BenchmarkResult{run(1000, time.Second), run(500, time.Second), run(1000, time.Second)}}
	r := &result{rounds: []testing.BenchmarkResult{run(900, time.Second), run(450, time.Second), run(950, time.Second)}}
	assert.InDelta(t, 0.9, pairedRatio(r, ref, reqPerSec), 1e-9, "0.90, 0.90 and 0.95: the median")
	assert.Zero(t, pairedRatio(r, nil, reqPerSec))
	short := &result{rounds: r.rounds[:2]} // failed after two rounds
	assert.InDelta(t, 0.9, pairedRatio(short, ref, reqPerSec), 1e-9)
	assert.InDelta(t, 2.5, median([]float64{4, 1, 2, 3}), 1e-9)
	assert.Zero(t, median(nil))
}

// The scale comparison fills a million records: it runs only when named.
func TestScaleOnlyWhenNamed(t *testing.T) {
	for _, args := range [][]string{nil, {"-quick"}} {
		o, err := parseFlags(args)
		require.NoError(t, err)
		assert.False(t, o.only["scale"], "%v", args)
	}
	o, err := parseFlags([]string{"-only", "scale"})
	require.NoError(t, err)
	assert.True(t, o.only["scale"])
	assert.Equal(t, bench.DefaultScaleRecords, o.scale.Records)
	assert.Equal(t, "outbound_scale", o.scale.Database)
	assert.Equal(t, 16, o.scale.DrainConcurrency)
	for _, bad := range []string{"-scale-records=0", "-scale-claims=0", "-scale-concurrency=0"} {
		_, err := parseFlags([]string{"-only", "scale", bad})
		assert.Error(t, err, bad)
	}
}

// A small scale section prints a row per series and depth, both plans and
// the drain's row.
func TestScaleSection(t *testing.T) {
	url := testenv.PostgresURL(t)
	o, err := parseFlags([]string{"-only", "scale", "-pg", url, "-scale-records", "2000", "-scale-claims", "10", "-scale-db", ""})
	require.NoError(t, err)
	var out bytes.Buffer
	o.out, o.progress = &out, io.Discard
	o.scale.ChildArgs = []string{"-test.run=^$"}
	require.NoError(t, scale(context.Background(), o))
	s := out.String()
	for _, want := range []string{
		"### 7. Scale", "| 1 | 1000 | 10 | ", "| 1 | 2000 | 10 | ", "| 1000 | 1000 | 10 | ", "| 1000 | 2000 | 10 | ",
		"Plans of one claim of 32 with 2000 pending records over 1 destination(s)",
		"Plans of one claim of 32 with 2000 pending records over 1000 destination(s)",
		"| 2000 | 1000 | 16 | ", "the database of -pg",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "failed")
}
