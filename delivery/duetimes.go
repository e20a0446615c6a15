package delivery

import (
	"sync"
	"time"

	"github.com/outbound-go/outbound/internal/minheap"
)

// dueTimes is a min-heap of the times deferred and retried records come
// due again, so that a run with attempts still out can claim again when
// the next of them does (see run.moreWait), not only at the first.
type dueTimes []time.Time

// push adds t.
func (h *dueTimes) push(t time.Time) { minheap.Push((*[]time.Time)(h), t) }

// next drops the times not after now and returns the earliest one left,
// or false when none is.
func (h *dueTimes) next(now time.Time) (time.Time, bool) {
	for len(*h) > 0 && !(*h)[0].After(now) {
		minheap.Pop((*[]time.Time)(h))
	}
	if len(*h) == 0 {
		return time.Time{}, false
	}
	return (*h)[0], true
}

// dueSignal tells Run, and the run it waits on, of the times records
// settled by any of Run's runs come due again: a run that claimed
// MaxPerRun records goes on settling records while Run waits, and a retry
// it schedules must be waited for, not found when its slow attempts end.
// It keeps every time until it passes: whichever of Run's idle wait and
// the current run's waitMore is listening reads the earliest, and neither
// consumes it, so a time one of them could not use (after its deadline,
// or noted with an earlier one) is still there for the other.
//
// Only times within horizon (PollInterval) of their noting are kept: both
// listeners look again at least that often anyway, so a later time would
// change nothing, and a long outage's deferrals, a record each, are not
// held in memory until they pass.
type dueSignal struct {
	horizon time.Duration
	mu      sync.Mutex
	at      dueTimes
	ch      chan struct{}
}

// newDueSignal returns a dueSignal that keeps the times within horizon.
func newDueSignal(horizon time.Duration) *dueSignal {
	return &dueSignal{horizon: horizon, ch: make(chan struct{}, 1)}
}

// note records that a record comes due at t, if t is within the horizon.
func (s *dueSignal) note(t time.Time) {
	now := time.Now()
	if t.After(now.Add(s.horizon)) {
		return
	}
	s.mu.Lock()
	// Drop the times already passed: while every claim finds records,
	// neither listener reads them, and they would pile up, one a retry.
	s.at.next(now)
	s.at.push(t)
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// next drops the times not after now and returns the earliest one left,
// or false when none is.
func (s *dueSignal) next(now time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at.next(now)
}
