package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/logging"
)

// Every pause, disable and resume is one line at the level a person
// should act on: Warn, Error, Info; the cause is kept and error text is
// redacted.
func TestObserveDestination(t *testing.T) {
	var buf bytes.Buffer
	logs, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	var _ delivery.DestinationObserver = logs
	ctx := context.Background()
	until := time.Date(2026, 12, 4, 17, 0, 30, 0, time.UTC)
	logs.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationPausedChange, Cause: "http_429", Until: until,
		Err: errors.New("http 429 from https://crm.example/v1?api_key=s3cr3t")})
	logs.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "hook", Change: delivery.DestinationDisabledChange, Cause: "gone"})
	logs.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationResumedChange})

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3)
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		got = append(got, m)
	}
	assert.Equal(t, "WARN", got[0]["level"])
	assert.Equal(t, "destination paused", got[0]["msg"])
	assert.Equal(t, "http_429", got[0]["cause"])
	assert.Equal(t, until.Format(time.RFC3339), got[0]["until"])
	assert.NotContains(t, lines[0], "s3cr3t")
	assert.Equal(t, "ERROR", got[1]["level"])
	assert.Equal(t, "gone", got[1]["cause"])
	assert.Equal(t, "INFO", got[2]["level"])
	assert.Equal(t, "destination resumed", got[2]["msg"])
}

func TestObserveDestinationRate(t *testing.T) {
	var buf bytes.Buffer
	logs, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	require.NoError(t, err)
	logs.ObserveDestination(context.Background(), delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationRateChange, Cause: "http_429", Rate: 19.5})
	logs.ObserveDestination(context.Background(), delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationRateChange, Cause: "recovery", Rate: 40})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, "WARN", got["level"])
	assert.Equal(t, "destination rate changed", got["msg"])
	assert.Equal(t, "http_429", got["cause"])
	assert.InDelta(t, 19.5, got["rate"], 1e-9)
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
	assert.Equal(t, "INFO", got["level"])
}

func TestObserveDestinationConcurrencyAndRetryBudget(t *testing.T) {
	var buf bytes.Buffer
	logs, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	logs.ObserveDestination(context.Background(), delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationConcurrencyChange, Cause: "overload", InFlight: 6})
	logs.ObserveDestination(context.Background(), delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationBudgetExhaustedChange, Cause: "retry_budget"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, "DEBUG", got["level"])
	assert.Equal(t, "destination concurrency limit changed", got["msg"])
	assert.Equal(t, "overload", got["cause"])
	assert.InDelta(t, 6, got["in_flight"], 1e-9)
	got = nil
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
	assert.Equal(t, "WARN", got["level"])
	assert.Equal(t, "destination retry budget exhausted; due retries wait", got["msg"])
	assert.Equal(t, "retry_budget", got["cause"])
}
