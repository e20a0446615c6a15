package delivery

import "context"

// attemptContext is the context of one Dispatcher attempt. It carries what
// a Deliverer may ask of the attempt, its correlation id (see
// CorrelationIDFrom) and the recorder ReportResponse fills, as one value:
// a context.WithValue layer for each cost two allocations apiece on every
// record.
type attemptContext struct {
	context.Context
	correlationID string
	response      responseRecorder
}

// newAttemptContext returns the context of an attempt under parent whose
// correlation id is correlationID.
func newAttemptContext(parent context.Context, correlationID string) *attemptContext {
	return &attemptContext{Context: parent, correlationID: correlationID}
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
	return c.Context.Value(key)
}
