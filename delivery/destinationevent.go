package delivery

import (
	"context"
	"fmt"
	"time"
)

// DestinationChange is what happened to a destination.
type DestinationChange uint8

// Destination changes a Dispatcher reports.
const (
	// DestinationPausedChange: paused (or a pause extended) for the fleet.
	DestinationPausedChange DestinationChange = iota + 1
	// DestinationResumedChange: a probe succeeded and the destination is
	// active again.
	DestinationResumedChange
	// DestinationDisabledChange: disabled until a person resumes it.
	DestinationDisabledChange
	// DestinationRateChange: the fleet-wide rate learned from the partner
	// changed (Rate; Cause "http_429", "ratelimit_policy",
	// "ratelimit_remaining" or "recovery"), or a Dispatcher started with
	// the destination and reports the rate in force (Cause "start": the
	// configured Rate, or the one the fleet learned).
	DestinationRateChange
	// DestinationConcurrencyChange: the adaptive concurrency limit
	// (DestinationConfig.AdaptiveConcurrency) changed (InFlight; Cause
	// "overload" for a 429, 503 or timeout, "latency" for an answer that
	// queued at the partner, "growth" for an increase, "start" for the
	// limit in force when a Dispatcher started with the destination).
	DestinationConcurrencyChange
	// DestinationBudgetExhaustedChange: the destination's RetryBudget is
	// spent and due retries are deferred (Cause "retry_budget"). It is
	// reported once per episode: again only after a retry was let through.
	DestinationBudgetExhaustedChange
)

var destinationChangeNames = [...]string{
	DestinationPausedChange:   "paused",
	DestinationResumedChange:  "resumed",
	DestinationDisabledChange: "disabled",
	DestinationRateChange:     "rate",

	DestinationConcurrencyChange:     "concurrency",
	DestinationBudgetExhaustedChange: "budget_exhausted",
}

// String returns "paused", "resumed", "disabled", "rate", "concurrency" or
// "budget_exhausted".
func (c DestinationChange) String() string {
	if c >= DestinationPausedChange && int(c) < len(destinationChangeNames) {
		return destinationChangeNames[c]
	}
	return fmt.Sprintf("change(%d)", uint8(c))
}

// DestinationEvent is a change a Dispatcher made to a destination's state
// in the store.
type DestinationEvent struct {
	// Destination is the destination's name.
	Destination string
	// Change is what happened.
	Change DestinationChange
	// Until is when a pause ends (DestinationPausedChange), or when this
	// process stops holding back the records of a destination whose
	// disable the store did not take (DestinationDisabledChange with
	// StoreErr).
	Until time.Time
	// Cause is a short stable name of why ("http_429", "dns", "gone",
	// "breaker_open", "unconfigured", ...); empty on resume.
	Cause string
	// Err is the outcome that caused the change, nil on resume.
	Err error
	// StoreErr is set when the store refused or failed the change. A
	// pause or disable the store did not take still holds this process:
	// it claims none of the destination's records until Until, then one
	// record probes the partner, and a fault in its answer tries the
	// change again (and holds for longer, by PauseBackoff).
	StoreErr error
	// Rate is the destination's new rate per second
	// (DestinationRateChange).
	Rate float64
	// InFlight is the destination's new adaptive concurrency limit
	// (DestinationConcurrencyChange).
	InFlight int
}

// DestinationObserver is implemented by Observers that want to see every
// pause, resume and disable a Dispatcher makes. Observers fans these out to
// those of its observers that implement it.
type DestinationObserver interface {
	ObserveDestination(ctx context.Context, e DestinationEvent)
}

// ObserveDestination passes e to every observer that implements
// DestinationObserver.
func (m multiObserver) ObserveDestination(ctx context.Context, e DestinationEvent) {
	for _, o := range m {
		if do, ok := o.(DestinationObserver); ok {
			do.ObserveDestination(ctx, e)
		}
	}
}
