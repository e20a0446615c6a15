package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/tokencache"
)

// logLine is one parsed JSON log line.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

func (l logLine) num(k string) float64 { f, _ := l[k].(float64); return f }

func parseLines(t *testing.T, out []byte) []logLine {
	t.Helper()
	var lines []logLine
	for _, raw := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var l logLine
		require.NoError(t, json.Unmarshal(raw, &l), "every line is JSON: %s", raw)
		lines = append(lines, l)
	}
	return lines
}

// attemptLines returns the attempt lines of record id, in order.
func attemptLines(lines []logLine, id string) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.str("record_id") == id {
			out = append(out, l)
		}
	}
	return out
}

func linesWithMsg(lines []logLine, msg string) []logLine {
	var out []logLine
	for _, l := range lines {
		if l.str("msg") == msg {
			out = append(out, l)
		}
	}
	return out
}

const (
	secretToken = "tok-SECRET-4f9a8b7c6d5e3f21"
	secretPass  = "hunter2-correct-horse"
	secretSSN   = "078-05-1120"
)

// TestLogObserverScenario replays success, a permanent error, a discard, a
// retry, a health outage, an opening breaker and a failed token mint, parses
// the JSON log and checks fields, levels and that no secret leaks.
func TestLogObserverScenario(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logs, err := logging.NewObserver(logging.Config{
			Logger: logger, LogPayloads: true, RedactFields: []string{"password", "SSN"},
		})
		require.NoError(t, err)

		// A token cache whose first mint fails.
		var mints atomic.Int32
		cache, err := tokencache.New(tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
			if mints.Add(1) == 1 {
				return tokencache.Token{}, errors.New("issuer answered 503")
			}
			return tokencache.Token{Value: secretToken, Expiry: time.Now().Add(time.Hour)}, nil
		}), tokencache.Config{OnEvent: logs.TokenEvent})
		require.NoError(t, err)
		defer cache.Close()
		_, err = cache.Token(context.Background())
		require.Error(t, err)
		time.Sleep(2 * time.Second) // past the mint backoff

		// The partner: perm-1 is refused with a body that echoes the
		// Authorization header; the out-* records hit a failing partner.
		sc := deliverytest.NewScript().
			On("perm-1", &classify.Error{Class: classify.ClassPermanent, Status: 403,
				Body: `{"error":"forbidden","echo":"Authorization: Bearer ` + secretToken + `"}`}).
			On("flaky-1", http503, nil).
			On("bad-1", http422).
			On("out-1", http503).On("out-2", http503).On("out-3", http503)
		authed := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			tok, err := cache.Token(ctx)
			if err != nil {
				return err
			}
			m.Headers = map[string]string{"Authorization": "Bearer " + tok.Value}
			return sc.Deliver(ctx, m)
		})
		breaker, err := health.NewCircuitBreaker(health.BreakerConfig{
			Name: "partner", ConsecutiveFailures: 2, OnStateChange: logs.BreakerChanged,
		})
		require.NoError(t, err)
		var down atomic.Bool
		monitor, err := health.NewMonitor(health.MonitorConfig{
			Name: "partner", SuccessThreshold: 1, FailureThreshold: 1, OnChange: logs.HealthChanged,
			Checker: health.CheckerFunc(func(context.Context) error {
				if down.Load() {
					return errors.New("GET https://partner.example/health?api_key=k-123456789: 503")
				}
				return nil
			}),
		})
		require.NoError(t, err)

		store := memstore.New(memstore.Config{})
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: delivery.Chain(authed, delivery.WithBreaker(breaker)),
			Gate: monitor, Observer: logs,
		})

		// Phase 1: the partner is up.
		enqueue(t, store,
			delivery.Message{ID: "ok-1", Key: "cand-1", Destination: "ats", CorrelationID: "corr-ok-1", Payload: pl("ok-1")},
			delivery.Message{ID: "perm-1", Key: "cand-2", Destination: "ats",
				Payload: []byte(`{"id":"perm-1","password":"` + secretPass + `","person":{"ssn":"` + secretSSN + `","name":"Ada"}}`)},
			delivery.Message{ID: "flaky-1", Destination: "ats", Payload: pl("flaky-1")},
			delivery.Message{ID: "bad-1", Destination: "ats", Payload: pl("bad-1")},
		)
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, 4, rep.Claimed)

		// Phase 2: an outage. The gate refuses the first attempt and the
		// destination is paused: what was claimed waits, unattempted.
		down.Store(true)
		time.Sleep(time.Minute) // the monitor's result goes stale
		enqueue(t, store, delivery.Message{ID: "out-1", Destination: "ats", Payload: pl("out-1")},
			delivery.Message{ID: "out-2", Destination: "ats", Payload: pl("out-2")},
			delivery.Message{ID: "out-3", Destination: "ats", Payload: pl("out-3")})
		rep, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		require.True(t, rep.GateClosed)
		require.Zero(t, rep.Attempted)
		require.Equal(t, rep.Claimed, rep.Deferred)
		held := rep.Claimed

		// Phase 3: health says up, but requests fail: the breaker opens
		// after two and defers the third record.
		down.Store(false)
		time.Sleep(time.Minute)
		rep, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, rep.Delivered, "flaky-1's retry succeeds")
		require.Equal(t, 2, rep.Retried, "out-1 and out-2 fail")
		require.Equal(t, 1, rep.Deferred, "out-3 is refused by the open breaker")

		lines := parseLines(t, out.Bytes())
		text := out.String()

		// No secret reaches the log, in payloads, errors or token events.
		for _, s := range []string{secretToken, secretPass, secretSSN, "k-123456789"} {
			assert.NotContains(t, text, s)
		}

		// Every attempt line carries the identifying fields.
		var attempts int
		for _, l := range lines {
			if l.str("record_id") == "" {
				continue
			}
			attempts++
			for _, k := range []string{"record_id", "key", "destination", "attempt", "class", "status", "duration", "correlation_id", "cause", "action"} {
				assert.Contains(t, l, k, "line %v", l)
			}
			assert.NotEmpty(t, l.str("correlation_id"))
		}
		assert.Equal(t, 8+held, attempts, "one line per claimed record: 4 in phase 1, those held in phase 2, 4 in phase 3")

		ok := attemptLines(lines, "ok-1")
		require.Len(t, ok, 1)
		assert.Equal(t, "DEBUG", ok[0].str("level"), "a success is not news")
		assert.Equal(t, "delivered", ok[0].str("action"))
		assert.Equal(t, "ok", ok[0].str("class"))
		assert.Equal(t, "corr-ok-1", ok[0].str("correlation_id"), "the message's correlation id")
		assert.Equal(t, "cand-1", ok[0].str("key"))
		assert.Equal(t, "ats", ok[0].str("destination"))
		assert.Equal(t, float64(1), ok[0].num("attempt"))
		assert.Equal(t, float64(0), ok[0].num("status"))

		perm := attemptLines(lines, "perm-1")
		require.Len(t, perm, 1)
		assert.Equal(t, "ERROR", perm[0].str("level"), "a dead letter is the 1% to hear about at once")
		assert.Equal(t, "dead_letter", perm[0].str("action"))
		assert.Equal(t, "permanent", perm[0].str("class"))
		assert.Equal(t, float64(403), perm[0].num("status"))
		assert.Equal(t, "http_403", perm[0].str("cause"))
		assert.Equal(t, "perm-1", perm[0].str("correlation_id"), "the record id stands in for a missing correlation id")
		assert.Contains(t, perm[0].str("error"), "forbidden", "the partner's reason is kept")
		var payload map[string]any
		require.NoError(t, json.Unmarshal([]byte(perm[0].str("payload")), &payload))
		assert.Equal(t, logging.RedactedValue, payload["password"])
		assert.Equal(t, map[string]any{"ssn": logging.RedactedValue, "name": "Ada"}, payload["person"])

		flaky := attemptLines(lines, "flaky-1")
		require.Len(t, flaky, 3, "retried, held by the outage's pause, delivered")
		assert.Equal(t, "DEBUG", flaky[0].str("level"), "an ephemeral error that will be retried is debug")
		assert.Equal(t, "retry", flaky[0].str("action"))
		assert.Equal(t, "ephemeral", flaky[0].str("class"))
		assert.Equal(t, "http_503", flaky[0].str("cause"))
		assert.NotEmpty(t, flaky[0].str("next_attempt_at"))
		assert.Equal(t, "defer", flaky[1].str("action"))
		assert.Equal(t, "health_down", flaky[1].str("cause"), "the gate's refusal names the health check")
		assert.Equal(t, "delivered", flaky[2].str("action"))
		assert.Equal(t, float64(2), flaky[2].num("attempt"))
		assert.Equal(t, "flaky-1", flaky[2].str("correlation_id"), "stable across attempts")

		bad := attemptLines(lines, "bad-1")
		require.Len(t, bad, 1)
		assert.Equal(t, "WARN", bad[0].str("level"))
		assert.Equal(t, "discard", bad[0].str("action"))

		out3 := attemptLines(lines, "out-3")
		require.NotEmpty(t, out3)
		last := out3[len(out3)-1]
		assert.Equal(t, "DEBUG", last.str("level"))
		assert.Equal(t, "defer", last.str("action"), "refused by the open breaker")
		assert.Equal(t, "unavailable", last.str("class"))

		opened := linesWithMsg(lines, "circuit breaker opened")
		require.Len(t, opened, 1)
		assert.Equal(t, "WARN", opened[0].str("level"))
		assert.Equal(t, "partner", opened[0].str("breaker"))

		downLines := linesWithMsg(lines, "destination down")
		require.Len(t, downLines, 1)
		assert.Equal(t, "ERROR", downLines[0].str("level"))
		assert.Contains(t, downLines[0].str("error"), "503")
		up := linesWithMsg(lines, "destination up")
		require.Len(t, up, 2, "unknown -> up, then down -> up")
		assert.Equal(t, "INFO", up[0].str("level"))

		failed := linesWithMsg(lines, "token mint_failed")
		require.Len(t, failed, 1)
		assert.Equal(t, "WARN", failed[0].str("level"))
		assert.Contains(t, failed[0].str("error"), "issuer answered 503")
		require.Len(t, linesWithMsg(lines, "token minted"), 1)

		runs := linesWithMsg(lines, "run finished")
		require.Len(t, runs, 3)
		assert.Equal(t, "INFO", runs[0].str("level"))
		assert.Equal(t, float64(4), runs[0].num("claimed"))
		assert.Equal(t, float64(1), runs[0].num("dead_lettered"))
		assert.Equal(t, "DEBUG", runs[1].str("level"), "a run refused by the gate is not news: the health line said it")
		assert.Equal(t, true, runs[1]["gate_closed"])
		assert.Equal(t, "INFO", runs[2].str("level"))
	})
}

// TestLogObserverQuietWhenAllIsWell: at Info, a backlog that is delivered
// (some after a retry) logs one summary per run and nothing per record.
func TestLogObserverQuietWhenAllIsWell(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		logs, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewJSONHandler(&out, nil))})
		require.NoError(t, err)
		store := memstore.New(memstore.Config{})
		sc := deliverytest.NewScript().On("m-3", http503, nil)
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Observer: logs, Concurrency: 4})
		for _, id := range []string{"m-1", "m-2", "m-3", "m-4", "m-5"} {
			enqueue(t, store, delivery.Message{ID: id, Payload: pl(id)})
		}
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		time.Sleep(time.Minute)
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		_, err = d.RunOnce(context.Background()) // idle
		require.NoError(t, err)

		lines := parseLines(t, out.Bytes())
		require.Len(t, lines, 2, "two summaries; the idle run and every attempt are below Info:\n%s", out.String())
		for _, l := range lines {
			assert.Equal(t, "run finished", l.str("msg"))
			assert.Equal(t, "INFO", l.str("level"))
			assert.NotContains(t, l, "payload")
		}
		assert.Equal(t, float64(4), lines[0].num("delivered"))
		assert.Equal(t, float64(1), lines[0].num("retried"))
		assert.Equal(t, float64(1), lines[1].num("delivered"))
	})
}

func TestLogObserverPayloads(t *testing.T) {
	cases := []struct {
		name    string
		cfg     logging.Config
		payload string
		want    string
	}{
		{name: "off by default", payload: `{"a":1}`, want: ""},
		{name: "verbatim without redaction", cfg: logging.Config{LogPayloads: true},
			payload: `{"a":1}`, want: `{"a":1}`},
		{name: "nested and in arrays, any case", cfg: logging.Config{LogPayloads: true, RedactFields: []string{"Token"}},
			payload: `{"items":[{"TOKEN":"x1"},{"token":{"deep":"x2"}}],"n":12345678901234567890}`,
			want:    `{"items":[{"TOKEN":"[redacted]"},{"token":"[redacted]"}],"n":12345678901234567890}`},
		{name: "non-JSON is withheld when redacting", cfg: logging.Config{LogPayloads: true, RedactFields: []string{"password"}},
			payload: `password=hunter2`, want: "[withheld: not JSON]"},
		{name: "a bare JSON string is withheld when redacting", cfg: logging.Config{LogPayloads: true, RedactFields: []string{"password"}},
			payload: `"password: hunter2"`, want: "[withheld: not a JSON object or array]"},
		{name: "trailing data is withheld", cfg: logging.Config{LogPayloads: true, RedactFields: []string{"password"}},
			payload: `{"a":1} password=hunter2`, want: "[withheld: not JSON]"},
		{name: "cut at MaxPayload on a rune boundary", cfg: logging.Config{LogPayloads: true, MaxPayload: 8},
			payload: `ééééé`, want: `éé…`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			tc.cfg.Logger = slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
			o, err := logging.NewObserver(tc.cfg)
			require.NoError(t, err)
			o.ObserveAttempt(context.Background(), delivery.AttemptEvent{
				Record: delivery.Record{Message: delivery.Message{ID: "r", Payload: []byte(tc.payload)}},
				Action: delivery.ActionDelivered, Attempted: true, Cause: "ok",
			})
			lines := parseLines(t, out.Bytes())
			require.Len(t, lines, 1)
			if tc.want == "" {
				assert.NotContains(t, lines[0], "payload")
				return
			}
			assert.Equal(t, tc.want, lines[0].str("payload"))
			assert.NotContains(t, out.String(), "hunter2")
		})
	}
}

func TestLogObserverLevels(t *testing.T) {
	cases := []struct {
		e    delivery.AttemptEvent
		want slog.Level
	}{
		{delivery.AttemptEvent{Action: delivery.ActionDelivered}, slog.LevelDebug},
		{delivery.AttemptEvent{Action: delivery.ActionDuplicate}, slog.LevelDebug},
		{delivery.AttemptEvent{Action: delivery.ActionRetry}, slog.LevelDebug},
		{delivery.AttemptEvent{Action: delivery.ActionDefer}, slog.LevelDebug},
		{delivery.AttemptEvent{Action: delivery.ActionRelease}, slog.LevelDebug},
		{delivery.AttemptEvent{Action: delivery.ActionDiscard}, slog.LevelWarn},
		{delivery.AttemptEvent{Action: delivery.ActionDeadLetter}, slog.LevelError},
		{delivery.AttemptEvent{Action: delivery.ActionDelivered, StoreErr: delivery.ErrLeaseLost}, slog.LevelWarn},
		{delivery.AttemptEvent{Action: delivery.ActionDelivered, StoreErr: errors.New("db down")}, slog.LevelError},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, logging.DefaultAttemptLevel(tc.e), "%v %v", tc.e.Action, tc.e.StoreErr)
	}

	// A custom level function is used instead.
	var out bytes.Buffer
	o, err := logging.NewObserver(logging.Config{
		Logger: slog.New(slog.NewJSONHandler(&out, nil)),
		Level:  func(delivery.AttemptEvent) slog.Level { return slog.LevelInfo },
	})
	require.NoError(t, err)
	o.ObserveAttempt(context.Background(), delivery.AttemptEvent{Record: delivery.Record{Message: delivery.Message{ID: "r"}}, Action: delivery.ActionDelivered})
	assert.Contains(t, out.String(), `"level":"INFO"`)
}

func TestLogObserverStoreErrorAndRunLevels(t *testing.T) {
	var out bytes.Buffer
	o, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	ctx := delivery.WithCorrelationID(context.Background(), "batch-7")
	o.ObserveAttempt(ctx, delivery.AttemptEvent{
		Record: delivery.Record{Message: delivery.Message{ID: "r"}}, Action: delivery.ActionDelivered, Attempted: true,
		StoreErr: errors.New("postgres://app:pw-very-secret@db/outbox: connection refused"),
	})
	o.ObserveRun(ctx, delivery.Report{Claimed: 1, StoreErrors: 1})
	o.ObserveRun(ctx, delivery.Report{})
	lines := parseLines(t, out.Bytes())
	require.Len(t, lines, 3)
	assert.Equal(t, "ERROR", lines[0].str("level"))
	assert.Contains(t, lines[0].str("store_error"), "connection refused")
	assert.NotContains(t, out.String(), "pw-very-secret")
	assert.Equal(t, "ERROR", lines[1].str("level"), "a run that could not record outcomes")
	assert.Equal(t, "batch-7", lines[1].str("correlation_id"), "the run's context correlation id")
	assert.Equal(t, "DEBUG", lines[2].str("level"), "an idle run")
}

func TestLogObserverHooks(t *testing.T) {
	var out bytes.Buffer
	o, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	o.BreakerChanged("api.partner", health.BreakerClosed, health.BreakerOpen)
	o.BreakerChanged("api.partner", health.BreakerOpen, health.BreakerHalfOpen)
	o.BreakerChanged("api.partner", health.BreakerHalfOpen, health.BreakerClosed)
	o.HealthChanged(health.Change{Name: "partner", From: health.StateUp, To: health.StateDown, Cause: errors.New("Authorization: Bearer abcdefgh12345678 rejected")})
	o.TokenEvent(tokencache.Event{Kind: tokencache.EventStoreError, Key: "partner", Op: "save", Err: errors.New("redis: i/o timeout")})
	o.TokenEvent(tokencache.Event{Kind: tokencache.EventInvalidated, Key: "partner", Expiry: time.Unix(1e9, 0)})
	o.TokenEvent(tokencache.Event{Kind: tokencache.EventShared, Key: "partner", Expiry: time.Unix(1e9, 0)})
	lines := parseLines(t, out.Bytes())
	require.Len(t, lines, 7)
	want := []struct{ level, msg string }{
		{"WARN", "circuit breaker opened"}, {"INFO", "circuit breaker half-open"}, {"INFO", "circuit breaker closed"},
		{"ERROR", "destination down"}, {"WARN", "token store_error"}, {"INFO", "token invalidated"}, {"DEBUG", "token shared"},
	}
	for i, w := range want {
		assert.Equal(t, w.level, lines[i].str("level"), "line %d", i)
		assert.Equal(t, w.msg, lines[i].str("msg"), "line %d", i)
	}
	assert.Equal(t, "save", lines[4].str("op"))
	assert.NotContains(t, out.String(), "abcdefgh12345678")
}

func TestNewLogObserverValidates(t *testing.T) {
	_, err := logging.NewObserver(logging.Config{MaxPayload: -1})
	require.ErrorContains(t, err, "Config.MaxPayload")
	_, err = logging.NewObserver(logging.Config{RedactFields: []string{"a", " "}})
	require.ErrorContains(t, err, "Config.RedactFields[1]")
	o, err := logging.NewObserver(logging.Config{})
	require.NoError(t, err)
	require.NotNil(t, o)
}

func TestLogObserverDisabledLevelDoesNotBuildLines(t *testing.T) {
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelError}))
	o, err := logging.NewObserver(logging.Config{Logger: logger, LogPayloads: true, RedactFields: []string{"x"}})
	require.NoError(t, err)
	e := delivery.AttemptEvent{
		Record: delivery.Record{Message: delivery.Message{ID: "r", Payload: []byte(strings.Repeat(`{"x":1}`, 1))}},
		Action: delivery.ActionDelivered, Attempted: true, Cause: "ok",
	}
	allocs := testing.AllocsPerRun(100, func() { o.ObserveAttempt(context.Background(), e) })
	assert.Zero(t, allocs, "a Debug line below the logger's level costs no allocation")
}
