package otel

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/delivery"
)

// CaptureTraceContext makes every Store in the process keep, with each
// message enqueued without a trace context of its own, the W3C trace
// context of the OpenTelemetry span in the enqueuing context (the span of
// the request handler that enqueues, say): call it once at startup in the
// processes that enqueue. It installs TraceParentFrom with
// delivery.SetTraceContextSource; a context set with
// delivery.WithTraceContext still takes precedence. A record enqueued
// outside any span keeps nothing.
func CaptureTraceContext() { delivery.SetTraceContextSource(TraceParentFrom) }

// TraceParentFrom returns the W3C traceparent and tracestate of the span
// context in ctx, or two empty strings when ctx has no valid one.
func TraceParentFrom(ctx context.Context) (traceparent, tracestate string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String(), sc.TraceState().String()
}
