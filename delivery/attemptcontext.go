package delivery

import (
	"context"
	"time"
)

// attemptContext is the context of one Dispatcher attempt. It carries what
// a Deliverer may ask of the attempt, its correlation id (see
// CorrelationIDFrom) and the recorder ReportResponse and ReportChannel
// fill, as one value: a context.WithValue layer for each cost two
// allocations apiece on every record.
//
// Its deadline, AttemptTimeout, is a lazyDeadline: a Deliverer that never
// waits on its context costs no timer.
type attemptContext struct {
	lazyDeadline
	correlationID string
	response      responseRecorder
}

// newAttemptContext returns the context of an attempt under parent whose
// correlation id is correlationID, ending timeout from now (never for a
// timeout of zero). Call its stop when the attempt is over.
func newAttemptContext(parent context.Context, timeout time.Duration, correlationID string) *attemptContext {
	c := &attemptContext{lazyDeadline: lazyDeadline{parent: parent}, correlationID: correlationID}
	if timeout > 0 {
		c.deadline = time.Now().Add(timeout)
	}
	return c
}

// Value answers the attempt's own keys and asks parent for any other.
// For the correlation key it returns c itself, not the id: converting the
// string to an interface would allocate on every lookup.
func (c *attemptContext) Value(key any) any {
	switch key.(type) {
	case correlationKey:
		return c
	case responseKey:
		return &c.response
	}
	return c.lazyDeadline.Value(key)
}
