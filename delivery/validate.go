package delivery

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
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
// request. A message that breaks these rules would fail
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
		if f.inHeader && hasControl(f.v, false) {
			return fmt.Errorf("%w: message %s %q has a control character (it is sent as a header value)", ErrInvalid, f.name, f.v)
		}
	}
	if len(m.Headers) > MaxHeaders {
		return fmt.Errorf("%w: message %q has %d headers, limit %d", ErrTooLarge, m.ID, len(m.Headers), MaxHeaders)
	}
	size := 0
	for k, v := range m.Headers {
		switch {
		case k == "":
			return fmt.Errorf("%w: message %q has a header with an empty name", ErrInvalid, m.ID)
		case !validToken(k):
			return fmt.Errorf("%w: message %q header name %q is not a valid header name (an RFC 9110 token)", ErrInvalid, m.ID, k)
		case !utf8.ValidString(v):
			return fmt.Errorf("%w: message %q header %q value is not valid text", ErrInvalid, m.ID, k)
		case !validHeaderValue(v):
			return fmt.Errorf("%w: message %q header %q value has a control character", ErrInvalid, m.ID, k)
		case transportHeader(k, v):
			return fmt.Errorf("%w: message %q header %q is set by the HTTP transport, not by a message", ErrInvalid, m.ID, k)
		}
		size += len(k) + len(v)
	}
	if size > MaxHeaderBytes {
		return fmt.Errorf("%w: message %q headers are %d bytes, limit %d", ErrTooLarge, m.ID, size, MaxHeaderBytes)
	}
	return nil
}

// transportHeader reports whether a request header named name with value v
// belongs to the HTTP transport rather than to a message: the
// connection-specific headers of RFC 9110 §7.6.1, which HTTP/2 and HTTP/3
// forbid (net/http refuses an HTTP/2 request that carries Connection,
// Upgrade or Transfer-Encoding, and would do so on every retry), TE other
// than "trailers", and the framing and routing headers it sets itself
// from the request (Host, Content-Length, Trailer).
func transportHeader(name, v string) bool {
	switch {
	case strings.EqualFold(name, "TE"):
		return !strings.EqualFold(strings.TrimSpace(v), "trailers")
	case strings.EqualFold(name, "Connection"), strings.EqualFold(name, "Keep-Alive"),
		strings.EqualFold(name, "Proxy-Connection"), strings.EqualFold(name, "Transfer-Encoding"),
		strings.EqualFold(name, "Upgrade"), strings.EqualFold(name, "Host"),
		strings.EqualFold(name, "Content-Length"), strings.EqualFold(name, "Trailer"):
		return true
	}
	return false
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// validToken reports whether s is an RFC 9110 token, the syntax of header
// names and methods: one or more of the visible ASCII characters other
// than delimiters.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if c < '!' || c > '~' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters other than horizontal tab (net/http refuses CR, LF,
// NUL and the rest at send time, and a request refused once is refused on
// every retry).
func validHeaderValue(s string) bool { return !hasControl(s, true) }

// hasControl reports whether s has a control character: C0 (below U+0020),
// DEL or C1 (U+0080 to U+009F), tab excepted when allowTab is set. Bytes
// that are not UTF-8 are not control characters.
func hasControl(s string, allowTab bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t':
			if !allowTab {
				return true
			}
		case c < 0x20 || c == 0x7f:
			return true
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f: // UTF-8 of U+0080..U+009F
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
