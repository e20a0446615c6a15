package logging

import (
	"context"
	"log/slog"

	"github.com/outbound-go/outbound/delivery"
)

// CorrelationKey is the attribute name under which Observer and
// Handler put correlation ids.
const CorrelationKey = "correlation_id"

// Handler wraps next so that every record logged with a context that
// carries a correlation id (see WithCorrelationID) gets it as a
// correlation_id attribute, unless the record already has one. Use it for
// the service's own logger, so that lines written while handling a request,
// or inside a Deliverer, can be joined with the outbound library's lines
// and with the partner's logs:
//
//	logger := slog.New(logging.Handler(slog.NewJSONHandler(os.Stderr, nil)))
//	ctx = delivery.WithCorrelationID(ctx, requestID)
//	logger.InfoContext(ctx, "candidate saved") // ... "correlation_id":"<requestID>"
//
// After WithGroup the attribute lands inside the group, like any other
// attribute added to the record.
func Handler(next slog.Handler) slog.Handler {
	if h, ok := next.(correlationHandler); ok {
		return h
	}
	return correlationHandler{next: next}
}

type correlationHandler struct{ next slog.Handler }

func (h correlationHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h correlationHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := delivery.CorrelationIDFrom(ctx); id != "" && !hasAttr(r, CorrelationKey) {
		r = r.Clone()
		r.AddAttrs(slog.String(CorrelationKey, id))
	}
	return h.next.Handle(ctx, r)
}

func (h correlationHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return correlationHandler{next: h.next.WithAttrs(attrs)}
}

func (h correlationHandler) WithGroup(name string) slog.Handler {
	return correlationHandler{next: h.next.WithGroup(name)}
}

func hasAttr(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
