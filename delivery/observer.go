package delivery

import (
	"context"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/nilcheck"
)

// Action is what the dispatcher did with a record after an attempt (or
// instead of one).
type Action uint8

// Actions, one per outcome class plus the ways a record is handed back
// without an attempt.
const (
	// ActionDelivered: OK; the record is delivered.
	ActionDelivered Action = iota + 1
	// ActionDuplicate: the destination already had it; delivered, flagged.
	ActionDuplicate
	// ActionRetry: Ephemeral; rescheduled with backoff, attempt counted.
	ActionRetry
	// ActionDeadLetter: Permanent, or Ephemeral with no attempts left.
	ActionDeadLetter
	// ActionDiscard: Discard; dropped with the reason.
	ActionDiscard
	// ActionDefer: the record waits without counting an attempt: its
	// destination is paused (gate closed, breaker open, a fault that says
	// nothing about the record) or over its rate limit, or the outcome was
	// Unavailable.
	ActionDefer
	// ActionRelease: handed back, due now, without an attempt (shutdown).
	ActionRelease
)

var actionNames = [...]string{
	ActionDelivered:  "delivered",
	ActionDuplicate:  "duplicate",
	ActionRetry:      "retry",
	ActionDeadLetter: "dead_letter",
	ActionDiscard:    "discard",
	ActionDefer:      "defer",
	ActionRelease:    "release",
}

// String returns the action's name, e.g. "dead_letter".
func (a Action) String() string {
	if a >= ActionDelivered && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(?)"
}

// AttemptEvent describes what happened to one claimed record.
type AttemptEvent struct {
	// Record is the record as it was claimed: Attempts does not yet count
	// this attempt.
	Record Record
	// Attempted reports whether the deliverer was called. It is false for
	// records deferred by the gate or released at shutdown before their
	// attempt.
	Attempted bool
	// Attempt describes the attempt (zero when Attempted is false, apart
	// from Class).
	Attempt Attempt
	// Err is the deliverer's error (nil on success) or the gate's refusal.
	Err error
	// Cause is classify.Cause(Err), a short stable name such as
	// "timeout" or "http_503".
	Cause string
	// Action is what the dispatcher did with the record.
	Action Action
	// NextAttemptAt is when the record is due again, for ActionRetry and
	// ActionDefer.
	NextAttemptAt time.Time
	// heldUntil is when the pause that holds the record back ends, for a
	// deferral due now behind its destination's pause: the report's
	// NextDue.
	heldUntil time.Time
	// StoreErr is set when recording the outcome failed; ErrLeaseLost
	// means another worker had taken the record over and this result was
	// dropped. The record is then retried after its lease.
	StoreErr error
	// AttemptContext is the context the attempt ran with, as the
	// Observer's TraceAttempt returned it (see AttemptTracer), so that
	// ObserveAttempt can end what TraceAttempt started there. It is nil
	// when the Observer is not an AttemptTracer or the deliverer was not
	// called. Use it for its values only: it may be cancelled by then.
	AttemptContext context.Context
}

// Class returns the outcome class of the event.
func (e *AttemptEvent) Class() classify.Class { return e.Attempt.Class }

// Observer receives what a Dispatcher does, for logs and metrics. Methods
// are called synchronously from the dispatcher's workers and outcome
// writers, concurrently (above Concurrency 1, one worker's consecutive
// outcomes may be observed in either order), so they must be safe for
// concurrent use and quick. A nil Observer in
// DispatcherConfig costs nothing. A panic in a method is recovered and
// logged through slog.Default, never allowed to end the process: see
// Report.ObserverPanics.
type Observer interface {
	// ObserveAttempt is called once per claimed record, after its outcome
	// has been written to the store.
	ObserveAttempt(ctx context.Context, e AttemptEvent)
	// ObserveRun is called at the end of every RunOnce.
	ObserveRun(ctx context.Context, r Report)
}

// AttemptTracer is implemented by an Observer that traces each attempt
// (the delivery/otel module's Observer does, with OpenTelemetry spans).
// The dispatcher calls TraceAttempt just before it hands m to the
// deliverer, with the attempt's context; the deliverer then runs with the
// context TraceAttempt returns, which reaches ObserveAttempt as
// AttemptEvent.AttemptContext. TraceAttempt is called from the
// dispatcher's workers, concurrently; a panic in it is recovered and
// counted like an ObserveAttempt panic, and the attempt goes on with the
// context it had. An Observer that does not implement it costs the
// dispatcher nothing.
type AttemptTracer interface {
	// TraceAttempt returns the context for the attempt of m, derived from
	// ctx. m is the message as it is about to be sent: Attempt is set,
	// TraceParent and TraceState are those stored with the record. It must
	// not change m.
	TraceAttempt(ctx context.Context, m *Message) context.Context
}

// Observers fans events out to every non-nil observer, in order. A typed
// nil (a nil *LogObserver, say) counts as nil and is left out. An observer
// that panics does not keep the event from the ones after it.
//
// The result is an AttemptTracer when one of obs is: each tracer's
// TraceAttempt is called in order, each with the context the one before
// returned.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	var tracers []AttemptTracer
	for _, o := range obs {
		if !nilcheck.IsNil(o) {
			list = append(list, o)
			if t, ok := o.(AttemptTracer); ok {
				tracers = append(tracers, t)
			}
		}
	}
	if len(tracers) > 0 {
		return tracingObservers{list, tracers}
	}
	return list
}

// tracingObservers is a multiObserver with tracers among its observers.
type tracingObservers struct {
	multiObserver
	tracers []AttemptTracer
}

// TraceAttempt chains the tracers. A panic in one does not keep the
// others from their TraceAttempt: the first panic is raised again after,
// as a partialTrace carrying the context the others made, so that their
// spans are still used and ended.
func (m tracingObservers) TraceAttempt(ctx context.Context, msg *Message) context.Context {
	var first any
	for _, t := range m.tracers {
		var next context.Context
		if p := catchPanic(func() { next = t.TraceAttempt(ctx, msg) }); p != nil {
			if first == nil {
				first = p
			}
			continue
		}
		if next != nil {
			ctx = next
		}
	}
	if first != nil {
		panic(partialTrace{ctx, first})
	}
	return ctx
}

// partialTrace is what tracingObservers.TraceAttempt panics with: the
// first panic of a tracer, and the context the other tracers returned.
type partialTrace struct {
	ctx   context.Context
	value any
}

type multiObserver []Observer

// A panic in one observer does not keep the event from the others: the
// first panic is raised again once every observer had the event, for the
// dispatcher to recover and report.
func (m multiObserver) ObserveAttempt(ctx context.Context, e AttemptEvent) {
	var first any
	for _, o := range m {
		if p := catchPanic(func() { o.ObserveAttempt(ctx, e) }); p != nil && first == nil {
			first = p
		}
	}
	if first != nil {
		panic(first)
	}
}

func (m multiObserver) ObserveRun(ctx context.Context, r Report) {
	var first any
	for _, o := range m {
		if p := catchPanic(func() { o.ObserveRun(ctx, r) }); p != nil && first == nil {
			first = p
		}
	}
	if first != nil {
		panic(first)
	}
}

// catchPanic calls call and returns what it panicked with, or nil.
func catchPanic(call func()) (p any) {
	defer func() { p = recover() }()
	call()
	return nil
}
