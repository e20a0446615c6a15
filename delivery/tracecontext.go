package delivery

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Limits of the W3C trace context (https://www.w3.org/TR/trace-context/)
// kept with a message.
const (
	// traceParentLen is the length of a version 00 traceparent:
	// "00-" 32 hex "-" 16 hex "-" 2 hex.
	traceParentLen = 55
	// MaxTraceStateBytes bounds Message.TraceState: the 512 bytes the W3C
	// recommendation asks every vendor to propagate.
	MaxTraceStateBytes = 512
	// maxTraceStateMembers is the W3C limit on tracestate list members.
	maxTraceStateMembers = 32
)

type traceContextKey struct{}

// traceContext is the trace context WithTraceContext puts in a context.
type traceContext struct{ parent, state string }

// TraceContextSource returns the W3C traceparent and tracestate of the
// trace that ctx is part of, or two empty strings.
type TraceContextSource func(ctx context.Context) (traceparent, tracestate string)

var traceContextSource atomic.Pointer[TraceContextSource]

// SetTraceContextSource makes src the way TraceContextFrom finds the trace
// context of a context that WithTraceContext did not set, so that a
// tracing library (the delivery/otel module's CaptureTraceContext, for
// OpenTelemetry) can hand this package the enqueuing request's trace
// without this module depending on it. A nil src removes the source. It
// is safe for concurrent use; it affects every Store in the process.
func SetTraceContextSource(src TraceContextSource) {
	if src == nil {
		traceContextSource.Store(nil)
		return
	}
	traceContextSource.Store(&src)
}

// WithTraceContext returns a context carrying a W3C trace context
// (traceparent, tracestate), which stores keep with the messages enqueued
// with it that carry none of their own (see PrepareMessage). It takes
// precedence over the SetTraceContextSource hook.
func WithTraceContext(ctx context.Context, traceparent, tracestate string) context.Context {
	return context.WithValue(ctx, traceContextKey{}, traceContext{traceparent, tracestate})
}

// TraceContextFrom returns the W3C trace context carried by ctx: the one
// set by WithTraceContext, else the one the SetTraceContextSource hook
// finds, else two empty strings. The values are returned as given: see
// ValidTraceParent and ValidTraceState. A panicking source is treated as
// finding nothing.
func TraceContextFrom(ctx context.Context) (traceparent, tracestate string) {
	if tc, ok := ctx.Value(traceContextKey{}).(traceContext); ok {
		return tc.parent, tc.state
	}
	src := traceContextSource.Load()
	if src == nil {
		return "", ""
	}
	defer func() {
		if recover() != nil {
			traceparent, tracestate = "", ""
		}
	}()
	return (*src)(ctx)
}

// fillTraceContext gives m the trace context of ctx when it has none of
// its own. What ctx carries is not the caller's own input: a malformed
// traceparent is dropped (the message is enqueued untraced) and a
// malformed tracestate is dropped alone, so a bad trace header never
// costs a record.
func fillTraceContext(ctx context.Context, m *Message) {
	if m.TraceParent != "" || m.TraceState != "" {
		return
	}
	parent, state := TraceContextFrom(ctx)
	if parent == "" || !ValidTraceParent(parent) {
		return
	}
	m.TraceParent = parent
	if ValidTraceState(state) {
		m.TraceState = state
	}
}

// validateTraceContext checks a message's own trace context fields.
func validateTraceContext(m *Message) error {
	switch {
	case m.TraceParent != "" && !ValidTraceParent(m.TraceParent):
		return fmt.Errorf("%w: message %q TraceParent %q is not a W3C traceparent", ErrInvalid, m.ID, truncateForError(m.TraceParent))
	case len(m.TraceState) > MaxTraceStateBytes:
		return fmt.Errorf("%w: message %q TraceState is %d bytes, limit %d", ErrTooLarge, m.ID, len(m.TraceState), MaxTraceStateBytes)
	case !ValidTraceState(m.TraceState):
		return fmt.Errorf("%w: message %q TraceState is not a W3C tracestate", ErrInvalid, m.ID)
	case m.TraceState != "" && m.TraceParent == "":
		return fmt.Errorf("%w: message %q has a TraceState without a TraceParent", ErrInvalid, m.ID)
	}
	return nil
}

// truncateForError keeps error texts bounded when they quote input.
func truncateForError(s string) string {
	if len(s) > traceParentLen+8 {
		return s[:traceParentLen+8] + "…"
	}
	return s
}

// ValidTraceParent reports whether s is a W3C traceparent header value
// this package keeps: version, trace id, parent id and flags in lower-case
// hex ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), a trace
// id and parent id that are not all zeros, and a version other than "ff".
// Version 00 values are exactly 55 bytes; a later version may append
// fields after a "-", as the recommendation allows.
func ValidTraceParent(s string) bool {
	if len(s) < traceParentLen || len(s) > MaxIDBytes {
		return false
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	version, traceID, parentID, flags := s[0:2], s[3:35], s[36:52], s[53:55]
	if !lowerHex(version) || !lowerHex(traceID) || !lowerHex(parentID) || !lowerHex(flags) {
		return false
	}
	if version == "ff" || allZero(traceID) || allZero(parentID) {
		return false
	}
	if version == "00" {
		return len(s) == traceParentLen
	}
	return len(s) == traceParentLen || s[traceParentLen] == '-'
}

// ValidTraceState reports whether s is empty or a W3C tracestate header
// value: at most MaxTraceStateBytes and 32 comma-separated members, each
// key=value with a key of lower-case letters, digits and _-*/ (and one @
// for a multi-tenant key) and a value of printable ASCII other than ','
// and '='. Empty members and spaces or tabs around members are allowed.
func ValidTraceState(s string) bool {
	if len(s) > MaxTraceStateBytes {
		return false
	}
	members := 0
	for len(s) > 0 {
		var member string
		member, s = cutComma(s)
		member = trimOWS(member)
		if member == "" {
			continue
		}
		members++
		if members > maxTraceStateMembers || !validTraceStateMember(member) {
			return false
		}
	}
	return true
}

func cutComma(s string) (before, after string) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func validTraceStateMember(m string) bool {
	eq := -1
	for i := 0; i < len(m); i++ {
		if m[i] == '=' {
			eq = i
			break
		}
	}
	if eq <= 0 || eq == len(m)-1 {
		return false
	}
	key, value := m[:eq], m[eq+1:]
	if len(key) > 256 || !(key[0] >= 'a' && key[0] <= 'z' || key[0] >= '0' && key[0] <= '9') {
		return false
	}
	ats := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '*', c == '/':
		case c == '@' && i > 0 && i < len(key)-1:
			ats++
		default:
			return false
		}
	}
	if ats > 1 || len(value) > 256 || value[len(value)-1] == ' ' {
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
