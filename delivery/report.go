package delivery

import (
	"fmt"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// Report summarises one RunOnce.
type Report struct {
	// Started is when the run began; Duration how long it took.
	Started  time.Time
	Duration time.Duration
	// GateClosed reports that a destination's gate refused an attempt
	// during the run (the destination was then paused); GateErr is its
	// error.
	GateClosed bool
	GateErr    error
	// Claimed counts records claimed; Attempted those handed to the
	// deliverer.
	Claimed   int
	Attempted int
	// Classes counts attempts by outcome class, indexed by classify.Class.
	Classes [len(classify.Classes)]int
	// What the dispatcher did with the claimed records.
	Delivered    int // OK
	Duplicates   int // delivered, flagged duplicate
	Retried      int // Ephemeral, rescheduled
	DeadLettered int // Permanent, or out of attempts
	Discarded    int // Discard
	Deferred     int // Unavailable, rescheduled without an attempt
	Released     int // handed back at shutdown without an attempt
	// LeaseLost counts outcomes dropped because another worker had taken
	// the record over; StoreErrors counts other failures to record an
	// outcome.
	LeaseLost   int
	StoreErrors int
	// ObserverPanics counts calls of the Observer's ObserveAttempt,
	// TraceAttempt and ObserveDestination that panicked. Each panic was
	// recovered and logged through slog.Default and changed nothing the
	// run does: a record's outcome is written before ObserveAttempt, a
	// destination's change (or the error writing it) before
	// ObserveDestination.
	ObserverPanics int
	// NextDue is the earliest next-attempt time this run scheduled, or
	// zero.
	NextDue time.Time
	// Err is the error RunOnce returned with this report: claiming failed,
	// or outcomes could not be written. Nil for a clean run.
	Err error

	// skippedWaiting is set when the run's last claim skipped only
	// destinations that wait for a time: one over its rate limit, or one
	// this process holds back itself (a local hold).
	skippedWaiting bool
	// skipped is set when the run's last claim skipped any destination:
	// one holding its share, one that waits for a time.
	skipped bool
}

// Count returns how many attempts ended in class c.
func (r *Report) Count(c classify.Class) int {
	if !c.Valid() {
		return 0
	}
	return r.Classes[c]
}

// String is a one-line summary, e.g. "claimed 100: 97 delivered, 1
// duplicate, 2 retried in 1.2s".
func (r Report) String() string {
	if r.GateClosed && r.Claimed == 0 {
		return fmt.Sprintf("gate closed: %v", r.GateErr)
	}
	return fmt.Sprintf("claimed %d: %d delivered, %d duplicate, %d retried, %d dead-lettered, %d discarded, %d deferred, %d released in %v",
		r.Claimed, r.Delivered, r.Duplicates, r.Retried, r.DeadLettered, r.Discarded, r.Deferred, r.Released, r.Duration)
}

func (r *Report) add(e *AttemptEvent) {
	if e.Attempted {
		r.Attempted++
		if e.Attempt.Class.Valid() {
			r.Classes[e.Attempt.Class]++
		}
	}
	switch {
	case e.StoreErr == nil:
	case isLeaseLost(e.StoreErr):
		r.LeaseLost++
		return
	default:
		r.StoreErrors++
		return
	}
	switch e.Action {
	case ActionDelivered:
		r.Delivered++
	case ActionDuplicate:
		r.Duplicates++
	case ActionRetry:
		r.Retried++
	case ActionDeadLetter:
		r.DeadLettered++
	case ActionDiscard:
		r.Discarded++
	case ActionDefer:
		r.Deferred++
	case ActionRelease:
		r.Released++
	}
	if next := e.dueAgain(); !next.IsZero() && (r.NextDue.IsZero() || next.Before(r.NextDue)) {
		r.NextDue = next
	}
}

// dueAgain is when e's record is due again as far as this process knows:
// the end of the pause that holds it back, else its NextAttemptAt; zero
// when it is not.
func (e *AttemptEvent) dueAgain() time.Time {
	if !e.heldUntil.IsZero() {
		return e.heldUntil
	}
	return e.NextAttemptAt
}
