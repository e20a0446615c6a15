package logging_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/logging"
)

func TestLogHandlerAddsTheContextsCorrelationID(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(logging.Handler(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := delivery.WithCorrelationID(context.Background(), "req-1")

	logger.InfoContext(ctx, "saved")
	logger.InfoContext(context.Background(), "no id")
	logger.InfoContext(ctx, "own id", "correlation_id", "rec-9")
	logger.With("svc", "ats").WithGroup("g").InfoContext(ctx, "grouped", "n", 1)

	// The Observer's lines keep the record's id, not the run context's.
	o, err := logging.NewObserver(logging.Config{Logger: logger})
	require.NoError(t, err)
	o.ObserveAttempt(ctx, delivery.AttemptEvent{
		Record: delivery.Record{Message: delivery.Message{ID: "r-5"}}, Action: delivery.ActionDelivered,
	})

	lines := parseLines(t, out.Bytes())
	require.Len(t, lines, 5)
	assert.Equal(t, "req-1", lines[0].str("correlation_id"))
	assert.NotContains(t, lines[1], "correlation_id")
	assert.Equal(t, "rec-9", lines[2].str("correlation_id"))
	assert.Equal(t, 1, strings.Count(strings.Split(out.String(), "\n")[2], "correlation_id"))
	assert.Equal(t, "ats", lines[3].str("svc"))
	assert.Equal(t, map[string]any{"n": float64(1), "correlation_id": "req-1"}, lines[3]["g"])
	assert.Equal(t, "r-5", lines[4].str("correlation_id"))
	assert.Equal(t, 1, strings.Count(strings.Split(out.String(), "\n")[4], "correlation_id"))

	// Wrapping twice adds it once.
	out.Reset()
	twice := slog.New(logging.Handler(logging.Handler(slog.NewJSONHandler(&out, nil))))
	twice.InfoContext(ctx, "x")
	assert.Equal(t, 1, strings.Count(out.String(), "correlation_id"))
	assert.False(t, twice.Enabled(ctx, slog.LevelDebug), "levels pass through")
}
