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
	switch v := ctx.Value(correlationKey{}).(type) {
	case string:
		return v
	case *attemptContext:
		return v.correlationID
	}
	return ""
}

// NewCorrelationID returns a fresh random correlation id: 32 lower-case hex
// characters.
func NewCorrelationID() string { return NewToken() }

// CorrelationIDFor returns the correlation id to send with m: the
// message's CorrelationID, else the one ctx carries (WithCorrelationID),
// else a fresh one (NewCorrelationID). It never fails.
func CorrelationIDFor(ctx context.Context, m *Message) string {
	if m.CorrelationID != "" {
		return m.CorrelationID
	}
	if id := CorrelationIDFrom(ctx); id != "" {
		return id
	}
	return NewCorrelationID()
}
