package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// A Deliverer reports the channel of an attempt with ReportChannel; the
// last report wins, the name is redacted and bounded, and the attempt in
// the record's history and LastAttempt carry it. An attempt with no
// report has no channel.
func TestReportChannelIsKeptOnTheAttempt(t *testing.T) {
	store := memstore.New(memstore.Config{})
	send := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		switch m.ID {
		case "two":
			delivery.ReportChannel(ctx, "primary")
			delivery.ReportChannel(ctx, "backup")
		case "secret":
			delivery.ReportChannel(ctx, "https://user:hunter2@partner.example/hook?token=s3cr3t")
			return &classify.Error{Class: classify.ClassPermanent, Status: 400}
		case "long":
			delivery.ReportChannel(ctx, strings.Repeat("c", 1000))
		}
		return nil
	})
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: send})
	enqueue(t, store, delivery.Message{ID: "two", Payload: pl("two")}, delivery.Message{ID: "secret", Payload: pl("secret")},
		delivery.Message{ID: "long", Payload: pl("long")}, delivery.Message{ID: "none", Payload: pl("none")})
	drain(t, d)

	two := get(t, store, "two")
	assert.Equal(t, "backup", two.LastAttempt.Channel, "the last report wins")
	require.Len(t, two.History, 1)
	assert.Equal(t, "backup", two.History[0].Channel)

	secret := get(t, store, "secret")
	assert.NotContains(t, secret.LastAttempt.Channel, "hunter2")
	assert.NotContains(t, secret.LastAttempt.Channel, "s3cr3t")
	assert.Contains(t, secret.LastAttempt.Channel, "partner.example")

	long := get(t, store, "long")
	assert.LessOrEqual(t, len(long.LastAttempt.Channel), delivery.MaxChannelText)
	assert.True(t, strings.HasPrefix(long.LastAttempt.Channel, "ccc"))

	assert.Empty(t, get(t, store, "none").LastAttempt.Channel)

	// Outside a dispatcher's attempt it does nothing (and does not panic).
	delivery.ReportChannel(context.Background(), "ignored")
}

// An attempt's channel is the "channel" member of its encoding, left out
// when empty; a history written before attempts had a channel decodes
// with none.
func TestHistoryEncodesChannel(t *testing.T) {
	a := delivery.Attempt{StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Class: classify.ClassOK, Channel: "eu-west"}
	assert.Contains(t, string(delivery.EncodeAttempt(a)), `"channel":"eu-west"`)
	a.Channel = ""
	assert.NotContains(t, string(delivery.EncodeAttempt(a)), "channel")

	old := `[{"started_at":"2026-01-02T03:04:05Z","duration_ns":5,"status":503,"class":2,"error":"ephemeral","response":""}]`
	got, err := delivery.DecodeHistory([]byte(old))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, 503, got[0].Status)
	assert.Empty(t, got[0].Channel)
}

// LastChannel gives a record's last attempt the channel of the newest
// history entry only when that entry is the same attempt.
func TestLastChannel(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	older := delivery.Attempt{StartedAt: at, Class: classify.ClassEphemeral, Error: "timeout", Channel: "primary"}
	newest := delivery.Attempt{StartedAt: at.Add(time.Minute), Status: 200, Class: classify.ClassOK, Channel: "backup"}
	hist := []delivery.Attempt{older, newest}

	last := newest
	last.Channel = ""
	last.StartedAt = last.StartedAt.In(time.FixedZone("x", 3600)) // the same instant, read back elsewhere
	assert.Equal(t, "backup", delivery.LastChannel(last, hist))

	cancelled := delivery.Attempt{Class: classify.ClassDiscard, Error: "cancelled by an operator"}
	assert.Empty(t, delivery.LastChannel(cancelled, hist), "not an attempt of the history")
	assert.Empty(t, delivery.LastChannel(last, nil), "no history")
}
