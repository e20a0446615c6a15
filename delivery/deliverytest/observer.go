package deliverytest

import (
	"context"
	"maps"
	"sync"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Observer is a delivery.Observer that keeps every attempt event and run
// report of a Dispatcher and counts them by action, class and cause, so a
// test can assert what the dispatcher did. The zero value is ready to use;
// it is safe for concurrent use.
type Observer struct {
	mu      sync.Mutex
	events  []delivery.AttemptEvent
	runs    []delivery.Report
	actions map[delivery.Action]int
	classes map[classify.Class]int
	causes  map[classify.Class]map[string]int
}

var _ delivery.Observer = (*Observer)(nil)

// ObserveAttempt records e.
func (o *Observer) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.actions == nil {
		o.actions = make(map[delivery.Action]int)
		o.classes = make(map[classify.Class]int)
		o.causes = make(map[classify.Class]map[string]int)
	}
	o.events = append(o.events, e)
	o.actions[e.Action]++
	if !e.Attempted {
		return
	}
	c := e.Attempt.Class
	o.classes[c]++
	if o.causes[c] == nil {
		o.causes[c] = make(map[string]int)
	}
	o.causes[c][e.Cause]++
}

// ObserveRun records r.
func (o *Observer) ObserveRun(_ context.Context, r delivery.Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs = append(o.runs, r)
}

// Events returns a copy of the attempt events so far, in the order they
// were observed.
func (o *Observer) Events() []delivery.AttemptEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]delivery.AttemptEvent(nil), o.events...)
}

// Runs returns a copy of the run reports so far: one per RunOnce, so its
// length is how many times the dispatcher ran.
func (o *Observer) Runs() []delivery.Report {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]delivery.Report(nil), o.runs...)
}

// Actions returns how many records ended in each action.
func (o *Observer) Actions() map[delivery.Action]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.actions)
}

// Classes returns how many attempts (deliverer calls) ended in each class.
// Records deferred by the dispatcher's gate were not attempted and are not
// counted.
func (o *Observer) Classes() map[classify.Class]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.classes)
}

// Causes returns how many attempts of class c ended with each cause
// (classify.Cause: "http_503", "timeout", "eof", ...).
func (o *Observer) Causes(c classify.Class) map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.causes[c])
}
