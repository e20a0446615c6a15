package delivery

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/redact"
)

// Message is one unit of outbound data: what to send, to whom, and how to
// recognise it again.
type Message struct {
	// ID identifies the message. Stores assign one on enqueue when it is
	// empty. The HTTP deliverer uses it as the Idempotency-Key when
	// IdempotencyKey is empty.
	ID string
	// Key is the ordering group (an order id, a candidate id). Messages with
	// the same non-empty Key and the same Destination are delivered one at
	// a time in enqueue order; messages with no Key are unordered. The
	// order is per destination: one event fanned out to three partners
	// under one Key never makes a partner wait for another.
	Key string
	// Destination names the partner or endpoint the message goes to; empty
	// is the default destination. A destination is state in the store
	// shared by every process (paused, disabled, its MaxInFlight) and has
	// its own pipeline in a Dispatcher (DispatcherConfig.Destinations); it
	// also labels metrics and logs, so name partners ("ats-acme"), not URLs
	// with ids in them. At most MaxDestinationName bytes, no NUL.
	Destination string
	// Payload is the body to send.
	Payload []byte
	// Headers are extra headers the HTTP deliverer sets on the request.
	// Names must be RFC 9110 tokens and values must not hold control
	// characters other than tab (ValidateMessage refuses them).
	//
	// Never put credentials here (Authorization, API keys, signatures):
	// headers are stored with the record, in plain text, for as long as it
	// is kept, and copied to every replica and backup of the store. Set
	// credentials when the request is sent instead: wrap the client's
	// transport in a tokencache.Transport, or sign with webhook.Transport.
	// A message's String, Format and LogValue hide the values of
	// credential-looking headers, but the store does not.
	Headers map[string]string
	// IdempotencyKey lets the receiver recognise a resend. A receiver
	// recognises resends of its own messages, so the key is scoped to the
	// destination: stores enqueue at most one record per Destination and
	// non-empty IdempotencyKey, and one key shared by the messages of one
	// event for several destinations gives each destination its record.
	// Enqueueing another payload under a destination and key already
	// stored is an error (ErrConflict).
	IdempotencyKey string
	// CorrelationID ties the message to the request or event that produced
	// it, across logs and services. When empty at enqueue, stores take the
	// one in the enqueuing context (see WithCorrelationID and
	// PrepareMessage); the dispatcher sends the record id when a record
	// still has none. Outside a dispatcher, the HTTP deliverer uses the one
	// in its context or generates one.
	CorrelationID string
	// Attempt is the 1-based number of the attempt being made. The
	// dispatcher sets it before each delivery.
	Attempt int
	// CreatedAt is when the message was first enqueued.
	CreatedAt time.Time
	// TraceParent is the W3C traceparent of the trace that enqueued the
	// message ("00-<trace id>-<span id>-<flags>"), so the attempts, made
	// later and perhaps by another process, can join that trace. When
	// empty at enqueue, stores take the one of the enqueuing context (see
	// WithTraceContext, SetTraceContextSource and PrepareMessage); empty
	// means untraced. A message's own value must be valid
	// (ValidTraceParent).
	TraceParent string
	// TraceState is the W3C tracestate that goes with TraceParent, empty
	// for none. At most MaxTraceStateBytes (ValidTraceState).
	TraceState string
}

// DeliveryKey returns the key the receiver should use to recognise a resend
// of m: IdempotencyKey, else ID, else "".
func (m *Message) DeliveryKey() string {
	if m.IdempotencyKey != "" {
		return m.IdempotencyKey
	}
	return m.ID
}

// String describes m on one line, safe to log: its ids, key, destination,
// attempt and creation time, its header names with their values, and the
// payload's length. It never shows the payload, and shows "[redacted]" for
// the value of every header whose name looks like a credential's
// (Authorization, Cookie, X-Api-Key, or any name containing "auth",
// "token", "secret", "key", "password", "cookie", "session", "signature");
// other values are redacted like error texts (see RedactURL). Empty fields
// are left out. A Record, which embeds its Message, prints this way too.
func (m Message) String() string {
	var b strings.Builder
	b.WriteString("delivery.Message{")
	sep := ""
	field := func(name, v string) {
		if v != "" {
			b.WriteString(sep + name + ":" + strconv.Quote(v))
			sep = " "
		}
	}
	field("ID", m.ID)
	field("Key", m.Key)
	field("Destination", m.Destination)
	field("IdempotencyKey", m.IdempotencyKey)
	field("CorrelationID", m.CorrelationID)
	if m.Attempt != 0 {
		b.WriteString(sep + "Attempt:" + strconv.Itoa(m.Attempt))
		sep = " "
	}
	if !m.CreatedAt.IsZero() {
		b.WriteString(sep + "CreatedAt:" + m.CreatedAt.Format(time.RFC3339Nano))
		sep = " "
	}
	if len(m.Headers) > 0 {
		b.WriteString(sep + "Headers:{")
		for i, name := range m.headerNames() {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Quote(name) + ":")
			if v, ok := m.headerValue(name); ok {
				b.WriteString(strconv.Quote(v))
			} else {
				b.WriteString(v)
			}
		}
		b.WriteByte('}')
		sep = " "
	}
	b.WriteString(sep + "Payload:" + strconv.Itoa(len(m.Payload)) + " bytes}")
	return b.String()
}

// Format prints m as String does for every verb (%v, %+v, %#v, %s, and %q
// quoted), so that no fmt verb shows the payload or a credential header.
func (m Message) Format(f fmt.State, verb rune) { formatAs(f, verb, m.String()) }

// formatAs writes s, a value's safe String, for every fmt verb: as is for
// %v and %s (with any flags), quoted for %q, and as a bad-verb note around
// it otherwise, so no verb falls through to printing the fields.
func formatAs(f fmt.State, verb rune, s string) {
	switch verb {
	case 'v', 's':
		_, _ = f.Write([]byte(s))
	case 'q':
		_, _ = f.Write([]byte(strconv.Quote(s)))
	default:
		_, _ = fmt.Fprintf(f, "%%!%c(%s)", verb, s)
	}
}

// LogValue makes m a log/slog group that is safe to log: record_id, key,
// destination, idempotency_key, correlation_id, attempt and created_at
// when set, headers (values of credential-looking names replaced by
// "[redacted]", as in String) and payload_bytes, the payload's length. The
// payload itself is never logged this way (see logging.Config.LogPayloads).
func (m Message) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 9)
	for _, f := range [...]struct{ name, v string }{
		{"record_id", m.ID}, {"key", m.Key}, {"destination", m.Destination},
		{"idempotency_key", m.IdempotencyKey}, {"correlation_id", m.CorrelationID},
	} {
		if f.v != "" {
			attrs = append(attrs, slog.String(f.name, f.v))
		}
	}
	if m.Attempt != 0 {
		attrs = append(attrs, slog.Int("attempt", m.Attempt))
	}
	if !m.CreatedAt.IsZero() {
		attrs = append(attrs, slog.Time("created_at", m.CreatedAt))
	}
	if len(m.Headers) > 0 {
		names := m.headerNames()
		headers := make([]slog.Attr, len(names))
		for i, name := range names {
			v, _ := m.headerValue(name)
			headers[i] = slog.String(name, v)
		}
		attrs = append(attrs, slog.Attr{Key: "headers", Value: slog.GroupValue(headers...)})
	}
	attrs = append(attrs, slog.Int("payload_bytes", len(m.Payload)))
	return slog.GroupValue(attrs...)
}

// headerNames returns m's header names in order, so output is stable.
func (m Message) headerNames() []string {
	names := make([]string, 0, len(m.Headers))
	for name := range m.Headers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// headerValue returns the value of header name as it may be shown, and
// false when that is the redaction marker in place of a credential.
func (m Message) headerValue(name string) (string, bool) {
	if redact.SensitiveName(name) {
		return redact.Marker, false
	}
	return redact.Text(m.Headers[name]), true
}
