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
