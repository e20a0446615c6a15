package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/sqlite"
	"github.com/outbound-go/outbound/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(testenv.Postgres)
	goleak.VerifyTestMain(m)
}

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs the command line args with OUTBOUND_STORE set to store.
func cli(t *testing.T, store string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "OUTBOUND_STORE" {
			return store
		}
		return ""
	}
	code := run(context.Background(), args, getenv, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// jsonOf runs args (with -json appended) expecting success and decodes
// stdout into v.
func jsonOf(t *testing.T, store string, v any, args ...string) {
	t.Helper()
	r := cli(t, store, append(args, "-json")...)
	require.Equal(t, exitOK, r.code, "%v: %s", args, r.stderr)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), "%v: %s", args, r.stdout)
}

// seed fills s: three records for crm dead after two attempts (one with
// a 410), the first on channel "primary", the second on "backup"; two
// delivered for ats, one pending for ats.
func seed(t *testing.T, s delivery.Store) {
	t.Helper()
	ctx := context.Background()
	var msgs []delivery.Message
	for i := range 3 {
		msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("crm-%d", i), Destination: "crm", Payload: []byte(`{"secret":"s3cr3t"}`),
			Headers: map[string]string{"Authorization": "Bearer tok-123"}})
	}
	for i := range 3 {
		msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("ats-%d", i), Destination: "ats", Payload: []byte(`{}`)})
	}
	_, err := s.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	for round := range 2 {
		recs, err := s.Claim(ctx, 10, time.Minute)
		require.NoError(t, err)
		for _, r := range recs {
			switch {
			case r.ID == "ats-2":
				require.NoError(t, s.Release(ctx, r.Lease()))
			case r.Destination == "ats":
				require.NoError(t, s.Complete(ctx, r.Lease(), delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassOK, Status: 200}, false))
			case round == 0:
				a := delivery.Attempt{StartedAt: time.Now(), Duration: time.Second, Class: classify.ClassEphemeral, Status: 503, Error: "ephemeral: http 503", Channel: "primary"}
				require.NoError(t, s.Reschedule(ctx, r.Lease(), time.Now().Add(-time.Second), &a))
			default:
				a := delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassPermanent, Status: 400, Error: "permanent: http 400 <bad>", Channel: "backup"}
				if r.ID == "crm-2" {
					a.Status, a.Error = 410, "permanent: http 410 Gone"
				}
				require.NoError(t, s.DeadLetter(ctx, r.Lease(), a))
			}
		}
	}
}

// exercise runs every command against the seeded store behind url.
func exercise(t *testing.T, url string, extra ...string) {
	with := func(args ...string) []string { return append(append([]string{}, extra...), args...) }

	var stats struct {
		Counts map[string]int64 `json:"counts"`
	}
	jsonOf(t, url, &stats, with("stats")...)
	assert.Equal(t, map[string]int64{"pending": 1, "in_flight": 0, "delivered": 2, "dead": 3, "discarded": 0}, stats.Counts)
	r := cli(t, url, with("stats")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "dead")

	var dests []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Dead   int64  `json:"dead"`
	}
	jsonOf(t, url, &dests, with("destinations")...)
	require.Len(t, dests, 2)
	assert.Equal(t, "crm", dests[1].Name)
	assert.Equal(t, int64(3), dests[1].Dead)

	type page struct {
		Records []struct {
			ID          string `json:"id"`
			State       string `json:"state"`
			LastAttempt struct {
				Error string `json:"error"`
			} `json:"last_attempt"`
		} `json:"records"`
		Next string `json:"next"`
	}
	var p page
	jsonOf(t, url, &p, with("list", "-state", "dead", "-error", "410")...)
	require.Len(t, p.Records, 1)
	assert.Equal(t, "crm-2", p.Records[0].ID)
	jsonOf(t, url, &p, with("list", "-destination", "crm", "-limit", "2")...)
	require.Len(t, p.Records, 2)
	require.NotEmpty(t, p.Next)
	jsonOf(t, url, &p, with("list", "-destination", "crm", "-limit", "2", "-after", p.Next)...)
	require.Len(t, p.Records, 1)
	jsonOf(t, url, &p, with("list", "-updated-before", time.Now().Add(-time.Hour).Format(time.RFC3339))...)
	assert.Empty(t, p.Records)
	r = cli(t, url, with("list", "-state", "dead")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "permanent: http 400 <bad>", "a table prints the text as it is")

	var rec struct {
		State       string   `json:"state"`
		HeaderNames []string `json:"header_names"`
		History     []struct {
			Status  int    `json:"status"`
			Error   string `json:"error"`
			Channel string `json:"channel"`
		} `json:"history"`
		LastAttempt struct {
			Channel string `json:"channel"`
		} `json:"last_attempt"`
	}
	jsonOf(t, url, &rec, with("show", "crm-0")...)
	assert.Equal(t, "dead", rec.State)
	require.Len(t, rec.History, 2, "the whole attempt history")
	assert.Equal(t, 503, rec.History[0].Status)
	assert.Equal(t, 400, rec.History[1].Status)
	assert.Equal(t, []string{"primary", "backup"}, []string{rec.History[0].Channel, rec.History[1].Channel})
	assert.Equal(t, "backup", rec.LastAttempt.Channel, "the last attempt's channel")
	assert.Equal(t, []string{"Authorization"}, rec.HeaderNames)
	r = cli(t, url, with("show", "crm-0")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "ephemeral: http 503")
	assert.Regexp(t, `(?m)^STARTED\s+TOOK\s+CHANNEL\s+CLASS\b`, r.stdout, "the history has a channel column")
	assert.Regexp(t, `(?m)\sprimary\s+ephemeral\s+503\s`, r.stdout)
	assert.Regexp(t, `(?m)\sbackup\s+permanent\s+400\s`, r.stdout)
	assert.NotContains(t, r.stdout, "tok-123", "no header value")
	assert.NotContains(t, r.stdout, "s3cr3t", "no payload")

	// Redrive: a dry run by filter, by id, then by filter.
	var dry struct {
		Matching int  `json:"matching"`
		DryRun   bool `json:"dry_run"`
	}
	jsonOf(t, url, &dry, with("redrive", "-destination", "crm", "-class", "permanent", "-dry-run")...)
	assert.Equal(t, 3, dry.Matching)
	assert.True(t, dry.DryRun)
	r = cli(t, url, with("redrive", "ats-2")...)
	assert.Equal(t, exitRefused, r.code, "a pending record cannot be redriven")
	assert.Contains(t, r.stderr, "refused")
	var moved struct {
		Redriven int `json:"redriven"`
	}
	jsonOf(t, url, &moved, with("redrive", "crm-2")...)
	assert.Equal(t, 1, moved.Redriven)
	jsonOf(t, url, &moved, with("redrive", "-destination", "crm")...)
	assert.Equal(t, 2, moved.Redriven)
	jsonOf(t, url, &stats, with("stats")...)
	assert.Equal(t, int64(0), stats.Counts["dead"])
	assert.Equal(t, int64(4), stats.Counts["pending"])

	// Pause and resume.
	r = cli(t, url, with("pause", "crm", "-for", "2h", "-reason", "maintenance")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "crm: paused until")
	jsonOf(t, url, &dests, with("destinations")...)
	assert.Equal(t, "paused", dests[1].Status)
	r = cli(t, url, with("resume", "crm")...)
	require.Equal(t, exitOK, r.code, r.stderr)
	jsonOf(t, url, &dests, with("destinations")...)
	assert.Equal(t, "active", dests[1].Status)

	// The same two commands with -json, parsed back.
	var paused struct {
		Name        string    `json:"name"`
		Status      string    `json:"status"`
		Cause       string    `json:"cause"`
		Reason      string    `json:"reason"`
		PausedUntil time.Time `json:"paused_until"`
	}
	before := time.Now()
	jsonOf(t, url, &paused, with("pause", "crm", "-for", "30m", "-reason", "partner deploy")...)
	assert.Equal(t, "crm", paused.Name)
	assert.Equal(t, "paused", paused.Status)
	assert.Equal(t, "operator", paused.Cause)
	assert.Equal(t, "partner deploy", paused.Reason)
	assert.WithinRange(t, paused.PausedUntil, before.Add(30*time.Minute-time.Second), time.Now().Add(30*time.Minute+time.Second))
	var resumed struct {
		Name    string `json:"name"`
		Resumed bool   `json:"resumed"`
	}
	jsonOf(t, url, &resumed, with("resume", "crm")...)
	assert.Equal(t, "crm", resumed.Name)
	assert.True(t, resumed.Resumed)
	jsonOf(t, url, &dests, with("destinations")...)
	assert.Equal(t, "active", dests[1].Status)

	// Purge: nothing is that old.
	var purged struct {
		Purged int `json:"purged"`
	}
	jsonOf(t, url, &purged, with("purge", "-older-than", "1h")...)
	assert.Equal(t, 0, purged.Purged)
	jsonOf(t, url, &purged, with("purge", "-older-than", "0s")...)
	assert.Equal(t, 2, purged.Purged, "the two delivered records")

	// Not found, refused and usage errors.
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"show", "nope"}, exitNotFound, "not found"},
		{[]string{"resume", "nobody"}, exitNotFound, "not found"},
		{[]string{"redrive", "nope"}, exitNotFound, "not found"},
		{[]string{"redrive", "nope", "-dry-run"}, exitNotFound, "not found"},
		{[]string{"redrive", "ats-2", "-dry-run"}, exitRefused, "not dead"},
		{[]string{"show"}, exitUsage, "want one record id"},
		{[]string{"list", "-state", "undead"}, exitUsage, "-state"},
		{[]string{"list", "-limit", "0"}, exitUsage, "-limit"},
		{[]string{"list", "-nope"}, exitUsage, "flag provided but not defined"},
		{[]string{"list", "-updated-after", "yesterday"}, exitUsage, "RFC 3339"},
		{[]string{"redrive", "x", "-destination", "crm"}, exitUsage, "not both"},
		{[]string{"redrive", "-class", "sometimes"}, exitUsage, "-class"},
		{[]string{"pause", "crm", "-for", "-1h"}, exitUsage, "positive"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
	} {
		r := cli(t, url, with(tc.args...)...)
		assert.Equal(t, tc.code, r.code, "%v: %s", tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.says, "%v", tc.args)
	}
}

func TestPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	schema := testenv.UniqueName(t, "cli")
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`) })
	s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(ctx))
	seed(t, s)

	exercise(t, "postgres:"+url, "-schema", schema)
	// A bare PostgreSQL URL works too.
	r := cli(t, url, "-schema", schema, "stats")
	assert.Equal(t, exitOK, r.code, r.stderr)

	// No outbox in that schema: says what to check.
	r = cli(t, "postgres:"+url, "-schema", "no_such_schema_here", "stats")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "check -schema and -table")
}

func TestPostgresUnreachable(t *testing.T) {
	r := cli(t, "postgres:postgres://ops:hunter2@127.0.0.1:1/app?sslmode=disable", "-timeout", "3s", "stats")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "cannot reach PostgreSQL")
	assert.Contains(t, r.stderr, "check the URL, that the server is running")
	assert.NotContains(t, r.stderr, "hunter2", "the password is never printed")
}

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	require.NoError(t, err)
	seed(t, s)
	require.NoError(t, s.Close())
	exercise(t, "sqlite:"+path)
}

func TestStoreUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo.db")
	r := cli(t, "sqlite:"+missing, "stats")
	assert.Equal(t, exitError, r.code)
	assert.Contains(t, r.stderr, "check the path")
	_, err := os.Stat(missing)
	assert.ErrorIs(t, err, os.ErrNotExist, "no outbox is created where a path was mistyped")

	for _, tc := range []struct {
		store string
		args  []string
		says  string
	}{
		{"", []string{"stats"}, "no store"},
		{"mysql://x", []string{"stats"}, "want postgres:URL or sqlite:PATH"},
		{"sqlite:", []string{"stats"}, "needs a path"},
		{"sqlite:/x", []string{"-timeout", "0s", "stats"}, "-timeout"},
		{"sqlite:/x", []string{"-bogus", "stats"}, "flag provided but not defined"},
		{"sqlite:/x", nil, "usage: outbound"},
	} {
		r := cli(t, tc.store, tc.args...)
		assert.Equal(t, exitUsage, r.code, "%q %v: %s", tc.store, tc.args, r.stderr)
		assert.Contains(t, r.stderr+r.stdout, tc.says, "%q %v", tc.store, tc.args)
	}
	r = cli(t, "", "help")
	assert.Equal(t, exitOK, r.code)
	for _, c := range commands {
		assert.True(t, strings.Contains(r.stdout, c.name), c.name)
	}
	assert.Contains(t, r.stdout, "Exit codes")
}
