package delivery_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

const payloadSecret = "ssn-123-45-6789"

func secretMessage() delivery.Message {
	return delivery.Message{
		ID: "m1", Key: "cand-42", Destination: "ats-acme", IdempotencyKey: "idem-1", CorrelationID: "corr-1",
		Attempt: 2, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Payload: []byte(`{"ssn":"` + payloadSecret + `"}`),
		Headers: map[string]string{
			"Authorization":   "Bearer tok-AUTH",
			"Cookie":          "sid=tok-COOKIE",
			"X-Api-Key":       "tok-APIKEY",
			"X-Auth-Token":    "tok-XAUTH",
			"X-Client-Secret": "tok-SECRET",
			"X-Password":      "tok-PASSWORD",
			"X-Tenant":        "acme",
			"X-Callback":      "https://u:tok-USERINFO@cb.example/done?sig=tok-QUERY",
		},
	}
}

func assertNoSecrets(t *testing.T, out string) {
	t.Helper()
	assert.NotContains(t, out, "tok-", "a credential header value leaked: %s", out)
	assert.NotContains(t, out, payloadSecret, "the payload leaked: %s", out)
}

func TestMessagePrintsNoSecrets(t *testing.T) {
	m := secretMessage()
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out := fmt.Sprintf(format, m)
		assertNoSecrets(t, out)
		assert.Contains(t, out, "cand-42", format)
		out = fmt.Sprintf(format, &m)
		assertNoSecrets(t, out)
	}
	for _, out := range []string{
		fmt.Sprint(m), fmt.Sprintln([]delivery.Message{m}), fmt.Sprintf("%v", map[string]delivery.Message{"a": m}),
		fmt.Sprintf("%+v", delivery.Record{Message: m, State: delivery.StateDead}), // a Record prints its Message safely
		fmt.Sprintf("%+v", []*delivery.Record{{Message: m}}),
	} {
		assertNoSecrets(t, out)
	}

	want := `delivery.Message{ID:"m1" Key:"cand-42" Destination:"ats-acme" IdempotencyKey:"idem-1" CorrelationID:"corr-1" ` +
		`Attempt:2 CreatedAt:2025-01-02T03:04:05Z Headers:{"Authorization":[redacted] "Cookie":[redacted] ` +
		`"X-Api-Key":[redacted] "X-Auth-Token":[redacted] "X-Callback":"https://[redacted]@cb.example/done?[redacted]" ` +
		`"X-Client-Secret":[redacted] "X-Password":[redacted] "X-Tenant":"acme"} Payload:25 bytes}`
	assert.Equal(t, want, m.String())
	assert.Equal(t, `delivery.Message{Payload:0 bytes}`, delivery.Message{}.String())
}

func TestMessageLogValueLogsNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	m := secretMessage()
	log.Info("sending", "message", m, "ptr", &m, "record", delivery.Record{Message: m})
	assertNoSecrets(t, buf.String())

	var line struct {
		Message struct {
			RecordID     string            `json:"record_id"`
			Key          string            `json:"key"`
			Attempt      int               `json:"attempt"`
			Headers      map[string]string `json:"headers"`
			PayloadBytes int               `json:"payload_bytes"`
		} `json:"message"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "m1", line.Message.RecordID)
	assert.Equal(t, "cand-42", line.Message.Key)
	assert.Equal(t, 2, line.Message.Attempt)
	assert.Equal(t, len(m.Payload), line.Message.PayloadBytes)
	assert.Equal(t, "acme", line.Message.Headers["X-Tenant"])
	assert.Equal(t, "[redacted]", line.Message.Headers["Authorization"])

	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("sending", "message", m)
	assertNoSecrets(t, buf.String())
	assert.True(t, strings.Contains(buf.String(), "message.payload_bytes=25"), buf.String())
}

func ExampleMessage_String() {
	m := delivery.Message{
		ID:      "cand-42",
		Payload: []byte(`{"name":"Ada"}`),
		Headers: map[string]string{"X-Api-Key": "k-123", "X-Tenant": "acme"},
	}
	fmt.Println(m)
	// Output:
	// delivery.Message{ID:"cand-42" Headers:{"X-Api-Key":[redacted] "X-Tenant":"acme"} Payload:14 bytes}
}
