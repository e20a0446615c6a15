package delivery

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/outbound-go/outbound/internal/httpsyntax"
)

// Size limits every Store enforces on enqueue. A message over a limit is
// rejected with an error wrapping ErrTooLarge, and nothing is stored.
const (
	// MaxPayloadBytes bounds Message.Payload (1 MiB). Partner APIs take
	// records, not files; larger payloads belong in object storage with a
	// reference in the message.
	MaxPayloadBytes = 1 << 20
	// MaxIDBytes bounds ID, Key, IdempotencyKey, CorrelationID and
	// Destination.
	MaxIDBytes = 255
	// MaxHeaders bounds the number of Message.Headers.
	MaxHeaders = 64
	// MaxHeaderBytes bounds the total size of Message.Headers names and
	// values.
	MaxHeaderBytes = 16 << 10
)

// ValidateMessage reports whether m can be enqueued: a non-empty payload
// within MaxPayloadBytes; ID, Key, IdempotencyKey, CorrelationID and
// Destination valid UTF-8 without NUL bytes and within MaxIDBytes; ID,
// IdempotencyKey and CorrelationID (which the HTTP deliverer sends as
// header values) without control characters; headers within MaxHeaders and
// MaxHeaderBytes, each name an RFC 9110 token ("X-Tenant", not "X Tenant"
// or "X-Tenant:") and each value valid UTF-8 without control characters
// other than horizontal tab, and no header the HTTP transport owns
// (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade,
// TE other than "trailers", Host, Content-Length, Trailer), which an
// HTTP/2 request cannot carry or which the transport sets itself from the
// request; TraceParent empty or valid (ValidTraceParent), TraceState
// valid (ValidTraceState, within MaxTraceStateBytes) and set only with a
// TraceParent. A message that breaks these rules would fail
// every attempt, so it is refused here rather than retried. The error
// wraps ErrInvalid (ErrTooLarge for size limits) and names the field; it
// never quotes a header value, which may be a credential.
func ValidateMessage(m *Message) error {
	if len(m.Payload) == 0 {
		return fmt.Errorf("%w: message %q has an empty payload", ErrInvalid, m.ID)
	}
	if len(m.Payload) > MaxPayloadBytes {
		return fmt.Errorf("%w: message %q payload is %d bytes, limit %d", ErrTooLarge, m.ID, len(m.Payload), MaxPayloadBytes)
	}
	for _, f := range [...]struct {
		name, v  string
		inHeader bool
	}{
		{"ID", m.ID, true}, {"Key", m.Key, false}, {"IdempotencyKey", m.IdempotencyKey, true},
		{"CorrelationID", m.CorrelationID, true}, {"Destination", m.Destination, false},
	} {
		if len(f.v) > MaxIDBytes {
			return fmt.Errorf("%w: message %s is %d bytes, limit %d", ErrTooLarge, f.name, len(f.v), MaxIDBytes)
		}
		if !utf8.ValidString(f.v) || containsNUL(f.v) {
			return fmt.Errorf("%w: message %s %q is not valid text", ErrInvalid, f.name, f.v)
		}
		if f.inHeader && httpsyntax.HasControl(f.v, false) {
			return fmt.Errorf("%w: message %s %q has a control character (it is sent as a header value)", ErrInvalid, f.name, f.v)
		}
	}
	if err := validateTraceContext(m); err != nil {
		return err
	}
	if len(m.Headers) > MaxHeaders {
		return fmt.Errorf("%w: message %q has %d headers, limit %d", ErrTooLarge, m.ID, len(m.Headers), MaxHeaders)
	}
	size := 0
	for k, v := range m.Headers {
		switch {
		case k == "":
			return fmt.Errorf("%w: message %q has a header with an empty name", ErrInvalid, m.ID)
		case !httpsyntax.Token(k):
			return fmt.Errorf("%w: message %q header name %q is not a valid header name (an RFC 9110 token)", ErrInvalid, m.ID, k)
		case !utf8.ValidString(v):
			return fmt.Errorf("%w: message %q header %q value is not valid text", ErrInvalid, m.ID, k)
		case !httpsyntax.HeaderValue(v):
			return fmt.Errorf("%w: message %q header %q value has a control character", ErrInvalid, m.ID, k)
		case httpsyntax.TransportHeader(k, v):
			return fmt.Errorf("%w: message %q header %q is set by the HTTP transport, not by a message", ErrInvalid, m.ID, k)
		}
		size += len(k) + len(v)
	}
	if size > MaxHeaderBytes {
		return fmt.Errorf("%w: message %q headers are %d bytes, limit %d", ErrTooLarge, m.ID, size, MaxHeaderBytes)
	}
	return nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// NewID returns a new record id: 32 lower-case hex characters, the first 12
// encoding the current Unix time in milliseconds so ids sort roughly by
// creation, the rest random.
func NewID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// NewToken returns a random 32-hex-character token, for lease fencing.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
