package logging_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/logging"
)

func benchEvent() delivery.AttemptEvent {
	return delivery.AttemptEvent{
		Record: delivery.Record{Message: delivery.Message{
			ID: "0b6f1c2e9a7d4e5f8a1b2c3d4e5f6a7b", Key: "cand-42", Destination: "ats", Payload: []byte(`{"candidate":42,"email":"a@example.com"}`),
		}},
		Attempted: true,
		Attempt:   delivery.Attempt{StartedAt: time.Now(), Duration: 42 * time.Millisecond, Status: 503, Class: classify.ClassEphemeral},
		Err:       &classify.Error{Class: classify.ClassEphemeral, Status: 503}, Cause: "http_503", Action: delivery.ActionRetry, NextAttemptAt: time.Now().Add(time.Minute),
	}
}

// BenchmarkLogObserver is the cost of one attempt line: skipped (the
// logger is at Info, retries are Debug), written as JSON, and written with
// a redacted payload.
func BenchmarkLogObserver(b *testing.B) {
	for _, bc := range []struct {
		name  string
		level slog.Level
		cfg   logging.Config
	}{
		{"skipped", slog.LevelInfo, logging.Config{}},
		{"json", slog.LevelDebug, logging.Config{}},
		{"json+payload", slog.LevelDebug, logging.Config{LogPayloads: true, RedactFields: []string{"email"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: bc.level}))
			o, err := logging.NewObserver(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			e := benchEvent()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				o.ObserveAttempt(ctx, e)
			}
		})
	}
}
