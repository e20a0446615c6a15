package delivery

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/outbound-go/outbound/internal/redact"
	"github.com/outbound-go/outbound/internal/text"
)

// maxPanicText bounds the panic value an observer panic puts in the log.
const maxPanicText = 512

// observeAttempt hands e to the Observer, if any. A panicking Observer
// must not kill the process from a worker goroutine the caller cannot
// guard: its panic is recovered, logged through slog.Default and counted
// in Report.ObserverPanics. The record was settled before, so nothing
// is lost.
func (r *run) observeAttempt(e AttemptEvent) {
	o := r.d.cfg.Observer
	if o == nil {
		return
	}
	r.callObserver("ObserveAttempt", func() { o.ObserveAttempt(r.ctx, e) })
}

// callObserver calls call, a method of the Observer, as observerPanicked
// does, and counts a panic in Report.ObserverPanics.
func (r *run) callObserver(method string, call func()) {
	if observerPanicked(method, call) {
		r.mu.Lock()
		r.report.ObserverPanics++
		r.mu.Unlock()
	}
}

// observeRun hands rep to the Observer, if any, recovering and logging a
// panic as observeAttempt does.
func (d *Dispatcher) observeRun(ctx context.Context, rep Report) {
	if o := d.cfg.Observer; o != nil {
		observerPanicked("ObserveRun", func() { o.ObserveRun(ctx, rep) })
	}
}

// observerPanicked calls call and reports whether it panicked, after
// logging the panic (redacted and bounded: an observer may have been
// handed a secret) at error level on slog.Default. A panic of the logger
// itself is swallowed: it must not crash the process either.
func observerPanicked(method string, call func()) (panicked bool) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		panicked = true
		defer func() { _ = recover() }()
		msg := text.Truncate(redact.Text(fmt.Sprint(p)), maxPanicText)
		slog.Default().Error("delivery: observer panicked; the run goes on", "method", method, "panic", msg)
	}()
	call()
	return false
}

// traceAttempt asks the Observer's TraceAttempt for the context of the
// attempt of m. A panicking or nil-returning tracer leaves ctx as it was
// (apart from what the other tracers of an Observers list did); a panic is
// logged and counted as in observeAttempt.
func (r *run) traceAttempt(t AttemptTracer, ctx context.Context, m *Message) context.Context {
	traced := ctx
	r.callObserver("TraceAttempt", func() {
		defer func() {
			if p := recover(); p != nil {
				if pt, ok := p.(partialTrace); ok {
					traced, p = pt.ctx, pt.value
				}
				panic(p)
			}
		}()
		traced = t.TraceAttempt(ctx, m)
	})
	if traced == nil {
		return ctx
	}
	return traced
}
