package otel

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Attribute keys this package sets that the OpenTelemetry semantic
// conventions do not define. The others (messaging.*, http.*, server.*,
// url.full, error.type) follow the conventions for messaging and HTTP
// client spans.
const (
	// AttemptKey is the attempt's 1-based number (delivery.Message.Attempt).
	AttemptKey = attribute.Key("outbound.attempt")
	// ClassKey is the outcome class ("ok", "ephemeral", ...).
	ClassKey = attribute.Key("outbound.class")
	// ActionKey is what the dispatcher did with the record ("delivered",
	// "retry", "dead_letter", "defer", ...).
	ActionKey = attribute.Key("outbound.action")
	// RetryAfterKey is the partner's Retry-After, in seconds, when it gave
	// one.
	RetryAfterKey = attribute.Key("outbound.retry_after")
	// NextAttemptKey is when the record is due again (RFC 3339), after a
	// retry or a deferral.
	NextAttemptKey = attribute.Key("outbound.next_attempt_at")
	// StateKey is a record state ("pending", "dead", ...), on
	// outbound.records.
	StateKey = attribute.Key("outbound.state")
)

// Attribute keys of the semantic conventions.
const (
	messagingSystem        = attribute.Key("messaging.system")
	messagingOperationType = attribute.Key("messaging.operation.type")
	messagingOperationName = attribute.Key("messaging.operation.name")
	messagingDestination   = attribute.Key("messaging.destination.name")
	messagingMessageID     = attribute.Key("messaging.message.id")
	messagingConversation  = attribute.Key("messaging.message.conversation_id")
	httpStatusCode         = attribute.Key("http.response.status_code")
	errorType              = attribute.Key("error.type")
)

// Observer traces and measures what a delivery.Dispatcher does with
// OpenTelemetry. It is a delivery.Observer and a delivery.AttemptTracer:
// set it as DispatcherConfig.Observer, alone or in delivery.Observers.
//
// Each attempt is a span of kind Consumer named "deliver <destination>"
// ("deliver" for the default destination), started just before the
// Deliverer is called and ended when its outcome is stored. It is the
// root of a trace of its own with a link to the span that enqueued the
// record (with Config.JoinTrace, a child of that span and linked to it), from the trace context stored with the record
// (delivery.Message.TraceParent; see CaptureTraceContext); a record
// without one, or with a malformed one, gives a span without a link. Its
// attributes are the destination, record id, correlation id, attempt
// number, outcome class, action, HTTP status, Retry-After and next
// attempt time; never the payload, the headers or the error text, which
// may quote the partner. An attempt whose outcome is not OK or Duplicate
// has status Error with the outcome's cause ("http_503", "timeout") as
// its description. Records handed back without an attempt (a closed
// gate, a pause, shutdown) get no span.
//
// Metrics, through the OpenTelemetry metrics API:
//
//	outbound.attempts                   counter         {attempt}  Deliverer calls, by messaging.destination.name and outbound.class
//	outbound.attempt.duration           histogram       s          attempt duration, by messaging.destination.name and outbound.class
//	outbound.actions                    counter         {record}   what was done with each claimed record, by messaging.destination.name and outbound.action (dead letters: outbound.action=dead_letter)
//	outbound.records                    up-down counter {record}   records by outbound.state, from Store.Stats (with Config.Store)
//	outbound.queue.oldest_pending.age   gauge           s          age of the oldest live record (with Config.Store)
//	outbound.queue.oldest_due.age       gauge           s          how long the oldest due record has waited (with Config.Store)
//
// An Observer is safe for concurrent use. Close it to stop the queue
// metrics' Store.Stats queries.
type Observer struct {
	cfg      Config
	tracer   trace.Tracer
	attempts metric.Int64Counter
	duration metric.Float64Histogram
	actions  metric.Int64Counter
	queue    metric.Registration // nil without Config.Store
	sets     attrSets
}

// maxCachedSets bounds attrSets: beyond it (thousands of destinations),
// sets are made per call instead of kept.
const maxCachedSets = 4096

// attrSets keeps the attribute sets of the metrics, by destination and
// class or action, so that a record's metrics allocate nothing once its
// destination has been seen.
type attrSets struct {
	m sync.Map     // setKey -> metric.MeasurementOption
	n atomic.Int64 // sets stored
}

type setKey struct {
	dest     string
	isAction bool
	v        uint8
}

// get returns the measurement option for the set of a and b, kept under
// key (dest, isAction, v).
func (c *attrSets) get(dest string, isAction bool, v uint8, a, b attribute.KeyValue) metric.MeasurementOption {
	k := setKey{dest, isAction, v}
	if opt, ok := c.m.Load(k); ok {
		return opt.(metric.MeasurementOption)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(a, b))
	if c.n.Add(1) <= maxCachedSets {
		c.m.Store(k, opt)
	}
	return opt
}

var (
	_ delivery.Observer      = (*Observer)(nil)
	_ delivery.AttemptTracer = (*Observer)(nil)
)

// NewObserver returns an Observer for cfg, or an error naming every
// invalid field of cfg or the instrument the meter provider refused.
func NewObserver(cfg Config) (*Observer, error) {
	cfg, err := cfg.validated()
	if err != nil {
		return nil, err
	}
	tp, mp := cfg.TracerProvider, cfg.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{cfg: cfg, tracer: tp.Tracer(ScopeName)}
	meter := mp.Meter(ScopeName)
	if o.attempts, err = meter.Int64Counter("outbound.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Delivery attempts (Deliverer calls) by destination and outcome class.")); err != nil {
		return nil, fmt.Errorf("otel: outbound.attempts: %w", err)
	}
	if o.duration, err = meter.Float64Histogram("outbound.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of delivery attempts by destination and outcome class."),
		metric.WithExplicitBucketBoundaries(cfg.DurationBuckets...)); err != nil {
		return nil, fmt.Errorf("otel: outbound.attempt.duration: %w", err)
	}
	if o.actions, err = meter.Int64Counter("outbound.actions", metric.WithUnit("{record}"),
		metric.WithDescription("What the dispatcher did with each claimed record, by destination and action.")); err != nil {
		return nil, fmt.Errorf("otel: outbound.actions: %w", err)
	}
	if cfg.Store != nil {
		if o.queue, err = registerQueue(meter, cfg.Store, cfg.StatsTimeout); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Close stops the queue metrics: Store.Stats is no longer queried. Spans
// and the other metrics go on. It returns the meter provider's error, if
// any; closing twice is harmless.
func (o *Observer) Close() error {
	if o.queue == nil {
		return nil
	}
	return o.queue.Unregister()
}

// TraceAttempt implements delivery.AttemptTracer: it starts the attempt's
// span in a context derived from ctx.
func (o *Observer) TraceAttempt(ctx context.Context, m *delivery.Message) context.Context {
	attrs := []attribute.KeyValue{
		messagingSystem.String("outbound"),
		messagingOperationType.String("process"),
		messagingOperationName.String("deliver"),
		messagingDestination.String(m.Destination),
		messagingMessageID.String(m.ID),
		AttemptKey.Int(m.Attempt),
	}
	if m.CorrelationID != "" {
		attrs = append(attrs, messagingConversation.String(m.CorrelationID))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
	if enq := EnqueuedSpanContext(m); enq.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: enq}))
		if o.cfg.JoinTrace {
			ctx = trace.ContextWithRemoteSpanContext(ctx, enq)
		} else {
			opts = append(opts, trace.WithNewRoot())
		}
	} else if !o.cfg.JoinTrace {
		opts = append(opts, trace.WithNewRoot())
	}
	name := "deliver"
	if m.Destination != "" {
		name += " " + m.Destination
	}
	ctx, _ = o.tracer.Start(ctx, name, opts...)
	return ctx
}

// EnqueuedSpanContext returns the span context of the span that enqueued
// m, read from m.TraceParent and m.TraceState; it is not valid
// (IsValid false) when m has none or a malformed one.
// A traceparent is read as delivery.ValidTraceParent accepts it; a
// malformed tracestate is dropped alone.
func EnqueuedSpanContext(m *delivery.Message) trace.SpanContext {
	p := m.TraceParent
	if !delivery.ValidTraceParent(p) {
		return trace.SpanContext{}
	}
	traceID, err1 := trace.TraceIDFromHex(p[3:35])
	spanID, err2 := trace.SpanIDFromHex(p[36:52])
	flags, err3 := strconv.ParseUint(p[53:55], 16, 8)
	if err1 != nil || err2 != nil || err3 != nil {
		return trace.SpanContext{}
	}
	cfg := trace.SpanContextConfig{TraceID: traceID, SpanID: spanID,
		TraceFlags: trace.TraceFlags(flags) & trace.FlagsSampled, Remote: true}
	if m.TraceState != "" {
		if ts, err := trace.ParseTraceState(m.TraceState); err == nil {
			cfg.TraceState = ts
		}
	}
	return trace.NewSpanContext(cfg)
}

// ObserveAttempt implements delivery.Observer: it ends the attempt's span
// with the outcome and records the metrics.
func (o *Observer) ObserveAttempt(ctx context.Context, e delivery.AttemptEvent) {
	dest := messagingDestination.String(e.Record.Destination)
	class := ClassKey.String(e.Class().String())
	if e.Attempted {
		set := o.sets.get(e.Record.Destination, false, uint8(e.Class()), dest, class)
		o.attempts.Add(ctx, 1, set)
		o.duration.Record(ctx, e.Attempt.Duration.Seconds(), set)
	}
	o.actions.Add(ctx, 1, o.sets.get(e.Record.Destination, true, uint8(e.Action), dest, ActionKey.String(e.Action.String())))
	if e.AttemptContext != nil {
		o.endSpan(trace.SpanFromContext(e.AttemptContext), &e, class)
	}
}

// endSpan sets the outcome on the attempt's span and ends it when the
// attempt ended, not when its outcome was stored.
func (o *Observer) endSpan(span trace.Span, e *delivery.AttemptEvent, class attribute.KeyValue) {
	if !span.IsRecording() {
		span.End()
		return
	}
	attrs := []attribute.KeyValue{class, ActionKey.String(e.Action.String())}
	if e.Attempt.Status > 0 {
		attrs = append(attrs, httpStatusCode.Int(e.Attempt.Status))
	}
	if d, ok := classify.RetryAfter(e.Err); ok {
		attrs = append(attrs, RetryAfterKey.Float64(d.Seconds()))
	}
	if (e.Action == delivery.ActionRetry || e.Action == delivery.ActionDefer) && !e.NextAttemptAt.IsZero() {
		attrs = append(attrs, NextAttemptKey.String(e.NextAttemptAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")))
	}
	switch e.Class() {
	case classify.ClassOK, classify.ClassDuplicate:
	default:
		if e.Cause != "" {
			attrs = append(attrs, errorType.String(e.Cause))
		}
		span.SetStatus(codes.Error, e.Cause)
	}
	span.SetAttributes(attrs...)
	var opts []trace.SpanEndOption
	if !e.Attempt.StartedAt.IsZero() {
		opts = append(opts, trace.WithTimestamp(e.Attempt.StartedAt.Add(e.Attempt.Duration)))
	}
	span.End(opts...)
}

// ObserveRun implements delivery.Observer. Runs make no span and no
// metric of their own: the queue metrics come from Store.Stats.
func (o *Observer) ObserveRun(context.Context, delivery.Report) {}
