package deliverytest

import (
	"bytes"
	"context"
	"maps"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Recorder is a delivery.Deliverer that records every message it is given,
// with the time, the outcome and the concurrency it saw, and passes each to
// another Deliverer. Use it to see what a Dispatcher or a middleware chain
// did, without a network. It is safe for concurrent use.
type Recorder struct {
	next delivery.Deliverer

	mu          sync.Mutex
	calls       []*Call
	inflight    int
	peak        int
	keyBusy     map[string]int
	keyOverlaps int
}

// Call is one call of a Recorder's Deliver.
type Call struct {
	// Message is a copy of the message as it was given.
	Message delivery.Message
	// Start is when the call began, Duration how long it took (zero while
	// it runs).
	Start    time.Time
	Duration time.Duration
	// Err is what the call returned, and Class its class.
	Err   error
	Class classify.Class
	// Done reports that the call has returned.
	Done bool
}

// NewRecorder returns a Recorder in front of next. A nil next accepts every
// message (returns nil), unless the context has ended.
func NewRecorder(next delivery.Deliverer) *Recorder {
	if next == nil {
		next = Accept()
	}
	return &Recorder{next: next, keyBusy: make(map[string]int)}
}

// Deliver records m and returns what the next Deliverer returns.
func (r *Recorder) Deliver(ctx context.Context, m *delivery.Message) error {
	c := &Call{Message: copyMessage(m), Start: time.Now()}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.inflight++
	r.peak = max(r.peak, r.inflight)
	if m.Key != "" {
		if r.keyBusy[m.Key] > 0 {
			r.keyOverlaps++
		}
		r.keyBusy[m.Key]++
	}
	r.mu.Unlock()

	err := r.next.Deliver(ctx, m)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight--
	if m.Key != "" {
		r.keyBusy[m.Key]--
	}
	c.Duration = time.Since(c.Start)
	c.Err = err
	c.Class = classify.Of(err)
	c.Done = true
	return err
}

// Calls returns a copy of every call so far, in the order they began.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Call, len(r.calls))
	for i, c := range r.calls {
		out[i] = *c
	}
	return out
}

// CallsFor returns a copy of the calls for the message with this ID, in
// the order they began.
func (r *Recorder) CallsFor(id string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		if c.Message.ID == id {
			out = append(out, *c)
		}
	}
	return out
}

// IDs returns the message IDs of every call, in the order the calls began.
func (r *Recorder) IDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.calls))
	for i, c := range r.calls {
		out[i] = c.Message.ID
	}
	return out
}

// Count returns how many calls were made.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// PeakInFlight returns the most calls that were in progress at once.
func (r *Recorder) PeakInFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// KeyOverlaps returns how many calls began while another call for a
// message with the same non-empty Key was in progress: zero when per-key
// ordering held.
func (r *Recorder) KeyOverlaps() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keyOverlaps
}

func copyMessage(m *delivery.Message) delivery.Message {
	c := *m
	c.Payload = bytes.Clone(m.Payload)
	c.Headers = maps.Clone(m.Headers)
	return c
}
