package delivery

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context that ends when parent does or at deadline,
// like context.WithDeadline, but makes that context (a timer, a closure
// and a cancel func: four allocations) only when someone needs it: asks
// for Done, or asks for Err or a Value once the deadline has passed. A
// store or Deliverer that never waits on its context (memstore, a no-op)
// costs none of them, on every record. The zero deadline means none: the
// context is parent.
//
// It is used by value inside the contexts the Dispatcher makes for store
// calls and attempts; call stop when the work is done.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	ctx    context.Context // made by made(); nil until then
	cancel context.CancelFunc
}

// made returns the real context, making it on first use.
func (l *lazyDeadline) made() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil {
		if l.deadline.IsZero() {
			l.ctx = l.parent
		} else {
			l.ctx, l.cancel = context.WithDeadline(l.parent, l.deadline)
		}
	}
	return l.ctx
}

// current returns the real context if it was made, else nil.
func (l *lazyDeadline) current() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// expired reports whether the deadline has passed.
func (l *lazyDeadline) expired() bool {
	return !l.deadline.IsZero() && !time.Now().Before(l.deadline)
}

// Deadline returns the earlier of the deadline and parent's.
func (l *lazyDeadline) Deadline() (time.Time, bool) {
	pd, ok := l.parent.Deadline()
	if l.deadline.IsZero() || (ok && pd.Before(l.deadline)) {
		return pd, ok
	}
	return l.deadline, true
}

// Done returns the real context's Done, making it.
func (l *lazyDeadline) Done() <-chan struct{} { return l.made().Done() }

// Err is parent's error, or DeadlineExceeded once the deadline has
// passed, as the real context (made then, so that Done and Cause agree)
// says.
func (l *lazyDeadline) Err() error {
	if ctx := l.current(); ctx != nil {
		return ctx.Err()
	}
	if !l.expired() {
		return l.parent.Err()
	}
	return l.made().Err()
}

// Value asks the real context once made (or once the deadline has
// passed, so that context.Cause sees the deadline), else parent.
func (l *lazyDeadline) Value(key any) any {
	ctx := l.current()
	if ctx == nil && l.expired() {
		ctx = l.made()
	}
	if ctx == nil {
		ctx = l.parent
	}
	return ctx.Value(key)
}

// stop releases the real context's timer, if it was made.
func (l *lazyDeadline) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		l.cancel()
	}
}

// storeContext is the context of one store call: parent (never cancelled:
// the run's detached context) with a StoreTimeout deadline.
type storeContext struct{ lazyDeadline }

// newStoreContext returns a context for a store call under parent that
// ends at now plus timeout. Call its stop when the call returns.
func newStoreContext(parent context.Context, timeout time.Duration) *storeContext {
	return &storeContext{lazyDeadline{parent: parent, deadline: time.Now().Add(timeout)}}
}
