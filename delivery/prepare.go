package delivery

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
)

// PrepareMessage returns the copy of m that a Store's Enqueue keeps: ID set
// to NewID() when empty; CorrelationID taken from ctx (WithCorrelationID)
// when empty, so a record enqueued while handling a request keeps that
// request's id (a message's own id wins); TraceParent and TraceState
// taken from ctx (TraceContextFrom) when both are empty, a malformed
// traceparent or tracestate in ctx being dropped rather than failing the
// enqueue; checked with ValidateMessage,
// after the fill, so an id from ctx obeys the same rules; Payload and
// Headers copied, so the caller may reuse its buffers; Attempt zeroed.
// CreatedAt is left to the store, which sets it from its own clock when
// zero. On an invalid message it returns the ValidateMessage error (wrapping
// ErrInvalid or ErrTooLarge) and a zero Message.
//
// Both stores in this module call it for every message, and a third-party
// Store should too: storetest checks the outcome. An existing record
// matched by ID or by Destination and IdempotencyKey is returned as stored,
// never changed by what PrepareMessage filled in; CheckMatch says whether
// the match is the same message or a conflict.
func PrepareMessage(ctx context.Context, m Message) (Message, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.CorrelationID == "" {
		m.CorrelationID = CorrelationIDFrom(ctx)
	}
	fillTraceContext(ctx, &m)
	if err := ValidateMessage(&m); err != nil {
		return Message{}, err
	}
	m.Payload = slices.Clone(m.Payload)
	m.Headers = maps.Clone(m.Headers)
	m.Attempt = 0
	return m, nil
}

// CheckMatch returns nil when m, a prepared message, is the same message as
// stored, the record (or earlier message of the call) it matched on
// enqueue (see Store.Enqueue): the same payload, and when it matched by ID
// also the same destination and idempotency key. Otherwise it returns an
// error wrapping ErrConflict that names the matched record, never the
// payloads. Stores call it for every
// match, so a reused key cannot drop new data silently.
func CheckMatch(m, stored *Message) error {
	switch {
	case m.ID == stored.ID && m.Destination != stored.Destination:
		return fmt.Errorf("id %q is taken by a record for destination %q, not %q: %w",
			m.ID, stored.Destination, m.Destination, ErrConflict)
	case m.ID == stored.ID && m.IdempotencyKey != stored.IdempotencyKey:
		return fmt.Errorf("id %q is taken by a record with idempotency key %q, not %q: %w",
			m.ID, stored.IdempotencyKey, m.IdempotencyKey, ErrConflict)
	case !bytes.Equal(m.Payload, stored.Payload):
		return fmt.Errorf("record %q (destination %q, idempotency key %q) holds a different payload: %w",
			stored.ID, stored.Destination, stored.IdempotencyKey, ErrConflict)
	}
	return nil
}
