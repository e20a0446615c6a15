package delivery

import "context"

type correlationKey struct{}

// WithCorrelationID returns a context carrying a correlation id, used for
// messages that have none of their own.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationIDFrom returns the correlation id carried by ctx, or "".
func CorrelationIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// fillCorrelationID gives m the correlation id carried by ctx (see
// WithCorrelationID) when m has none of its own; a message's own
// CorrelationID always wins, and with no id in either m is left as it is.
// PrepareMessage calls it, so a record enqueued inside a request handler
// carries the request's correlation id to the dispatcher, its log lines
// and the partner.
func fillCorrelationID(ctx context.Context, m *Message) {
	if m.CorrelationID != "" {
		return
	}
	m.CorrelationID = CorrelationIDFrom(ctx)
}

// NewCorrelationID returns a fresh random correlation id: 32 lower-case hex
// characters.
func NewCorrelationID() string { return NewToken() }

// correlationID picks the id to send for m: the message's, else the
// context's, else a fresh one.
func correlationID(ctx context.Context, m *Message) string {
	if m.CorrelationID != "" {
		return m.CorrelationID
	}
	if id := CorrelationIDFrom(ctx); id != "" {
		return id
	}
	return NewCorrelationID()
}
