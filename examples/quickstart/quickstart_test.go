package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(testenv.Postgres)
	goleak.VerifyTestMain(m)
}

// small is a quick configuration for tests.
func small() config {
	return config{
		records: 400, concurrency: 8, maxConns: 4, unit: 5 * time.Millisecond,
		outage: 300 * time.Millisecond, outageAfter: 100, latency: time.Millisecond,
		timeout: time.Minute, progress: progressLines,
	}
}

func TestQuickstartEndToEnd(t *testing.T) {
	var out bytes.Buffer
	cfg := small()
	sum, err := run(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assertSummary(t, cfg, sum, out.String())
}

func TestQuickstartPostgres(t *testing.T) {
	cfg := small()
	cfg.postgres = testenv.PostgresURL(t)
	var out bytes.Buffer
	sum, err := run(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assertSummary(t, cfg, sum, out.String())
	assert.Contains(t, out.String(), "outbox: PostgreSQL quickstart_")
}

func assertSummary(t *testing.T, cfg config, sum *summary, out string) {
	t.Helper()
	assert.Equal(t, cfg.records, sum.delivered+sum.discarded+sum.dead, "every record settled")
	assert.Zero(t, sum.unsettled)
	assert.Equal(t, sum.expectInvalid, sum.discarded)
	assert.Equal(t, sum.expectNoCredit, sum.dead)
	assert.Len(t, sum.deadLetters, sum.dead)
	for _, r := range sum.deadLetters {
		assert.Contains(t, r.LastAttempt.Error, "insufficient credit", "the reason is shown")
	}
	assert.GreaterOrEqual(t, sum.duplicates, sum.expectKnown)
	assert.Equal(t, sum.delivered, sum.partnerHolds)
	assert.Empty(t, sum.missing)
	assert.Equal(t, 1, sum.tokens, "one token for the whole run")
	// Only a replacement for a connection the transport declined to reuse
	// can take the partner's count past the limit.
	assert.LessOrEqual(t, sum.peakConns, cfg.maxConns+max(sum.conns-cfg.maxConns, 0))
	assert.Less(t, sum.conns, cfg.records/10, "keep-alive: connections are reused")
	assert.Positive(t, sum.outageAnswers, "the outage happened")
	assert.Positive(t, sum.retryCauses["http_429"], "throttled records were retried")
	assert.Equal(t, sum.attempts, sum.requests, "every counted attempt reached the partner, and nothing else did")
	assert.Contains(t, out, "all 400 accounted for")
	assert.Contains(t, out, "settled:", "progress lines were shown")
}

func TestQuickstartGivesUpAndFails(t *testing.T) {
	cfg := small()
	cfg.outage, cfg.timeout = time.Hour, 500*time.Millisecond
	var out bytes.Buffer
	sum, err := run(context.Background(), cfg, &out)
	require.Error(t, err, "records left unsettled fail the run")
	assert.Contains(t, err.Error(), "gave up after -timeout")
	assert.Contains(t, err.Error(), "never settled")
	assert.Positive(t, sum.unsettled)
	assert.Contains(t, out.String(), "NOT SETTLED")
	assert.Contains(t, out.String(), "UNACCOUNTED FOR")
}

func TestSummaryCheck(t *testing.T) {
	good := summary{records: 10, delivered: 7, duplicates: 1, discarded: 2, dead: 1, partnerHolds: 7,
		expectInvalid: 2, expectNoCredit: 1, expectKnown: 1}
	require.NoError(t, good.check())
	cases := map[string]func(s *summary){
		"unknown to the partner": func(s *summary) { s.missing = []string{"cand-0001-started"} },
		"the partner holds 8":    func(s *summary) { s.partnerHolds = 8 },
		"holds 9 of the 10":      func(s *summary) { s.delivered, s.partnerHolds = 6, 6 },
		"never settled":          func(s *summary) { s.delivered, s.unsettled, s.partnerHolds = 6, 1, 6 },
		"rejected 3 as invalid":  func(s *summary) { s.expectInvalid = 3 },
		"the partner refused 2":  func(s *summary) { s.expectNoCredit = 2 },
		"already had 2":          func(s *summary) { s.expectKnown = 2 },
	}
	for want, spoil := range cases {
		s := good
		spoil(&s)
		assert.ErrorContains(t, s.check(), want)
	}
}

func TestFlags(t *testing.T) {
	var help bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, name := range []string{"records", "concurrency", "max-conns", "backoff-unit", "outage", "outage-after",
		"latency", "rate", "postgres", "keep", "timeout", "progress"} {
		assert.Regexp(t, `(?m)^  -`+name+`( \w+)?\n\s+\S`, help.String(), "-h explains -%s", name)
	}

	cfg, err := parseFlags([]string{"-records", "50", "-backoff-unit", "1ms", "-progress", "off"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 50, cfg.records)
	assert.Equal(t, time.Millisecond, cfg.unit)
	assert.Equal(t, progressOff, cfg.progress)
	assert.Equal(t, 16, cfg.concurrency, "defaults")

	for _, bad := range [][]string{
		{"-records", "0"}, {"-concurrency", "0"}, {"-max-conns", "-1"}, {"-backoff-unit", "0s"},
		{"-outage", "-1s"}, {"-outage-after", "-1"}, {"-latency", "-1ms"}, {"-rate", "-5"},
		{"-timeout", "0s"}, {"-progress", "fancy"}, {"-no-such-flag"},
	} {
		var stderr bytes.Buffer
		_, err := parseFlags(bad, &stderr)
		require.Error(t, err, "%v", bad)
		assert.False(t, errors.Is(err, flag.ErrHelp))
		flagName := strings.TrimPrefix(bad[0], "-")
		assert.Contains(t, stderr.String(), flagName, "the error names the flag %s", bad[0])
	}
}
