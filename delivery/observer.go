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
}

// Class returns the outcome class of the event.
func (e *AttemptEvent) Class() classify.Class { return e.Attempt.Class }

// Observer receives what a Dispatcher does, for logs and metrics. Methods
// are called synchronously from the dispatcher's workers, concurrently, so
// they must be safe for concurrent use and quick. A nil Observer in
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

// Observers fans events out to every non-nil observer, in order. A typed
// nil (a nil *LogObserver, say) counts as nil and is left out. An observer
// that panics does not keep the event from the ones after it.
func Observers(obs ...Observer) Observer {
	var list multiObserver
	for _, o := range obs {
		if !nilcheck.IsNil(o) {
			list = append(list, o)
		}
	}
	return list
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
