package delivery

import (
	"context"
	"maps"
	"slices"
)

// PrepareMessage returns the copy of m that a Store's Enqueue keeps: ID set
// to NewID() when empty; CorrelationID taken from ctx (WithCorrelationID)
// when empty, so a record enqueued while handling a request keeps that
// request's id (a message's own id wins); checked with ValidateMessage,
// after the fill, so an id from ctx obeys the same rules; Payload and
// Headers copied, so the caller may reuse its buffers; Attempt zeroed.
// CreatedAt is left to the store, which sets it from its own clock when
// zero. On an invalid message it returns the ValidateMessage error (wrapping
// ErrInvalid or ErrTooLarge) and a zero Message.
//
// Both stores in this module call it for every message, and a third-party
// Store should too: storetest checks the outcome. An existing record
// matched by ID or IdempotencyKey is returned as stored, never changed by
// what PrepareMessage filled in.
func PrepareMessage(ctx context.Context, m Message) (Message, error) {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.CorrelationID == "" {
		m.CorrelationID = CorrelationIDFrom(ctx)
	}
	if err := ValidateMessage(&m); err != nil {
		return Message{}, err
	}
	m.Payload = slices.Clone(m.Payload)
	m.Headers = maps.Clone(m.Headers)
	m.Attempt = 0
	return m, nil
}
