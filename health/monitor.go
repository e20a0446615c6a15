package health

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outbound-go/outbound/internal/nilcheck"
	"github.com/outbound-go/outbound/internal/saturate"
)

// Defaults of [MonitorConfig].
const (
	DefaultInterval         = 15 * time.Second
	DefaultTimeout          = 5 * time.Second
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 2
)

// MonitorConfig configures a [Monitor]. Only Name and Checker are required;
// every other field has a default for its zero value.
type MonitorConfig struct {
	// Name names the destination in errors, hooks and reports. Required.
	Name string
	// Checker probes the destination. Required.
	Checker Checker
	// Interval is how long the background loop started by [Monitor.Start]
	// waits after a result before probing again. Zero means DefaultInterval.
	Interval time.Duration
	// Timeout bounds each probe; a Checker with its own timeout gets the
	// shorter of the two. Zero means DefaultTimeout.
	Timeout time.Duration
	// TTL is how long a result stays fresh. [Monitor.Allow] answers from a
	// fresh result without probing; after the TTL it probes on demand. Zero
	// means Interval + Timeout, so that while the background loop runs no
	// caller ever waits for a probe.
	TTL time.Duration
	// FailureThreshold is how many consecutive failed probes take an up
	// destination down. Zero means DefaultFailureThreshold.
	FailureThreshold int
	// SuccessThreshold is how many consecutive successful probes bring a
	// down destination back up. Zero means DefaultSuccessThreshold.
	SuccessThreshold int
	// OnChange, if set, is called on every state change, including the
	// first one out of StateUnknown. It runs synchronously on the goroutine
	// that finished the probe, after the new state is visible to State and
	// Snapshot, one call at a time and in order. It may call State,
	// Snapshot and Allow, but must not call Check or Stop on the same
	// monitor: those wait for the probe that is calling it.
	OnChange func(Change)
}

// Change describes a state change of a [Monitor].
type Change struct {
	// Name is the monitor's name.
	Name string
	// From and To are the old and new states.
	From, To State
	// Cause is the error of the probe that caused the change; nil when the
	// destination came up.
	Cause error
	// At is when the deciding probe finished.
	At time.Time
}

// Snapshot is a monitor's view of its destination at one moment.
type Snapshot struct {
	// Name is the monitor's name.
	Name string
	// State is the current state.
	State State
	// Since is when State began: the creation of the monitor for
	// StateUnknown, otherwise the probe that decided it.
	Since time.Time
	// CheckedAt is when the latest probe finished; zero before the first.
	CheckedAt time.Time
	// Err is the error of the latest probe, nil if it succeeded. While the
	// destination is up it may be non-nil: fewer than FailureThreshold
	// probes have failed in a row.
	Err error
	// Failures and Successes count the latest run of consecutive failed
	// and successful probes; one of them is always zero.
	Failures, Successes int
}

// Monitor tracks whether one destination is up by probing it with a
// [Checker], on demand and, after [Monitor.Start], in the background.
//
// A destination starts in StateUnknown. Its first result decides the state
// outright (a service booting against a dead partner should not send
// several failing batches first); after that, FailureThreshold failures in
// a row take it down and SuccessThreshold successes in a row bring it back
// up, so a flapping destination does not toggle on every probe.
//
// Probes never overlap: a caller that needs a probe while one is running
// waits for its result. A Monitor is safe for concurrent use.
type Monitor struct {
	name      string
	checker   Checker
	interval  time.Duration
	timeout   time.Duration
	ttl       time.Duration
	failAt    int
	succeedAt int
	onChange  func(Change)

	// view is what Allow reads on its hot path; it is replaced, never
	// changed, under mu. Its times are durations since epoch, because
	// time.Since(epoch) reads only the monotonic clock, which costs half
	// of time.Now.
	view  atomic.Pointer[view]
	epoch time.Time

	mu     sync.Mutex
	snap   Snapshot
	flight *flight

	runMu      sync.Mutex
	stop       context.CancelFunc
	done       chan struct{}
	background atomic.Bool // the loop started by Start is running
}

// view is an immutable summary of a Snapshot for the hot path.
type view struct {
	state      State
	freshUntil time.Duration // since Monitor.epoch; zero: never fresh
	nextLook   time.Duration // since Monitor.epoch: when the answer may change
	down       error         // *DownError when state is StateDown
}

// probeDueHint is the hint Allow gives while the probe that may change a
// down answer is due or running: look again shortly.
const probeDueHint = 100 * time.Millisecond

// flight is one running probe that other callers can wait for.
type flight struct {
	done chan struct{}
	err  error
	// abandoned is set when the probe's leader gave up (its context
	// ended) before the check finished; nothing was recorded and waiters
	// must probe again.
	abandoned bool
}

// NewMonitor returns a Monitor for cfg in StateUnknown. It returns an error
// naming the field when cfg is invalid. The monitor does not probe until
// asked: call Start for background probing, or let Allow and Check probe on
// demand.
func NewMonitor(cfg MonitorConfig) (*Monitor, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("health: MonitorConfig.Name is required")
	case cfg.Checker == nil:
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.Checker is required", cfg.Name)
	case nilcheck.Typed(cfg.Checker):
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.Checker is a nil %T", cfg.Name, cfg.Checker)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.Interval must not be negative, got %v", cfg.Name, cfg.Interval)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.Timeout must not be negative, got %v", cfg.Name, cfg.Timeout)
	case cfg.TTL < 0:
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.TTL must not be negative, got %v", cfg.Name, cfg.TTL)
	case cfg.FailureThreshold < 0:
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.FailureThreshold must not be negative, got %d", cfg.Name, cfg.FailureThreshold)
	case cfg.SuccessThreshold < 0:
		return nil, fmt.Errorf("health: monitor %q: MonitorConfig.SuccessThreshold must not be negative, got %d", cfg.Name, cfg.SuccessThreshold)
	}
	m := &Monitor{
		name:      cfg.Name,
		checker:   cfg.Checker,
		interval:  orDefault(cfg.Interval, DefaultInterval),
		timeout:   orDefault(cfg.Timeout, DefaultTimeout),
		failAt:    orDefault(cfg.FailureThreshold, DefaultFailureThreshold),
		succeedAt: orDefault(cfg.SuccessThreshold, DefaultSuccessThreshold),
		onChange:  cfg.OnChange,
	}
	m.ttl = orDefault(cfg.TTL, saturate.Add(m.interval, m.timeout))
	m.epoch = time.Now()
	m.snap = Snapshot{Name: m.name, Since: m.epoch}
	m.view.Store(&view{})
	return m, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Name returns the monitor's name.
func (m *Monitor) Name() string { return m.name }

// State returns the current state.
func (m *Monitor) State() State { return m.view.Load().state }

// Snapshot returns the monitor's current view of its destination.
func (m *Monitor) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snap
}

// Allow is the gate: it returns nil when the destination may be called, and
// otherwise an error of class ClassUnavailable whose classify.RetryAfter
// says when the answer may change.
//
// With a fresh result (younger than the TTL) Allow answers at once, without
// allocating: nil unless the state is StateDown, in which case the error
// wraps a [*DownError] (errors.Is(err, ErrDown)) and the hint is the time
// until the answer may change: the background loop's next probe when the
// monitor was started, else the time the result goes stale (while that
// probe is due or running, a short hint of at most 100ms). Without a fresh result, in particular in
// StateUnknown, Allow first probes once on demand (or waits for the probe
// already running), bounded by ctx and the monitor's Timeout, and answers
// from the outcome. If ctx ends first, Allow returns ctx's error marked
// ClassUnavailable: the destination was not tried.
func (m *Monitor) Allow(ctx context.Context) error {
	elapsed := time.Since(m.epoch)
	v := m.view.Load()
	if elapsed >= v.freshUntil {
		if err := m.probe(ctx); err != nil && ctx.Err() != nil {
			return unavailable(fmt.Errorf("health: %q: waiting for a probe: %w", m.name, ctx.Err()), m.timeout)
		}
		elapsed = time.Since(m.epoch)
		v = m.view.Load()
	}
	if v.state == StateDown {
		hint := v.nextLook - elapsed
		if hint <= 0 { // the background probe is due or running
			hint = min(v.freshUntil-elapsed, probeDueHint)
		}
		return unavailable(v.down, hint)
	}
	return nil
}

// Check probes the destination now (or waits for the probe already
// running), records the result, and returns the probe's error, nil on
// success. It returns ctx's error if ctx ends before the probe finishes.
// Check makes a Monitor a [Checker], so monitors can be passed to
// [Startup], which then also decides their first state.
func (m *Monitor) Check(ctx context.Context) error { return m.probe(ctx) }

// probe runs one probe, or joins the running one, and returns its error.
func (m *Monitor) probe(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.mu.Lock()
		if f := m.flight; f != nil {
			m.mu.Unlock()
			select {
			case <-f.done:
				if f.abandoned {
					continue // its leader gave up; lead the next one
				}
				return f.err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		f := &flight{done: make(chan struct{})}
		m.flight = f
		m.mu.Unlock()
		return m.lead(ctx, f)
	}
}

// lead runs the check for flight f and records its result.
func (m *Monitor) lead(ctx context.Context, f *flight) error {
	defer func() {
		m.mu.Lock()
		m.flight = nil
		m.mu.Unlock()
		close(f.done)
	}()
	err := m.check(ctx)
	if err != nil && ctx.Err() != nil {
		// Our caller gave up; this says nothing about the destination.
		f.abandoned = true
		return ctx.Err()
	}
	f.err = err
	if change, ok := m.record(err, time.Now()); ok && m.onChange != nil {
		m.onChange(change)
	}
	return err
}

// check runs the checker bounded by the monitor's timeout.
func (m *Monitor) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	return runCheck(ctx, m.checker)
}

// record applies one probe result with hysteresis and publishes the new
// view. It reports the state change, if there was one.
func (m *Monitor) record(err error, at time.Time) (Change, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &m.snap
	s.CheckedAt, s.Err = at, err
	if err == nil {
		s.Successes++
		s.Failures = 0
	} else {
		s.Failures++
		s.Successes = 0
	}
	next := s.State
	switch {
	case s.State == StateUnknown && err == nil, s.State == StateDown && s.Successes >= m.succeedAt:
		next = StateUp
	case s.State == StateUnknown, s.State == StateUp && s.Failures >= m.failAt:
		next = StateDown
	}
	change := Change{Name: m.name, From: s.State, To: next, Cause: err, At: at}
	if next != s.State {
		s.State, s.Since = next, at
	}
	v := &view{state: s.State, freshUntil: saturate.Add(at.Sub(m.epoch), m.ttl)}
	v.nextLook = v.freshUntil
	if m.background.Load() {
		v.nextLook = min(v.freshUntil, saturate.Add(at.Sub(m.epoch), m.interval)) // the loop probes again then
	}
	if s.State == StateDown {
		v.down = &DownError{Name: m.name, Since: s.Since, Cause: err}
	}
	m.view.Store(v)
	return change, change.From != change.To
}

// Start begins probing in the background: at once if there is no result
// yet, then whenever the latest result is Interval old (a result from an
// on-demand probe counts, so the two never double up). The loop stops when
// ctx ends or Stop is called. Start returns an error if the monitor is
// already running.
func (m *Monitor) Start(ctx context.Context) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.done != nil {
		return fmt.Errorf("health: monitor %q is already started", m.name)
	}
	ctx, m.stop = context.WithCancel(ctx)
	m.done = make(chan struct{})
	m.background.Store(true)
	go m.loop(ctx, m.done)
	return nil
}

// Stop stops the background loop started by Start and waits for it to exit;
// a probe it is running is cancelled through its context. Stop returns at
// once if the monitor is not running. The monitor keeps its state and can
// be started again.
func (m *Monitor) Stop() {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.done == nil {
		return
	}
	m.stop()
	<-m.done
	m.stop, m.done = nil, nil
}

func (m *Monitor) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	defer m.background.Store(false)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		timer.Reset(m.untilDue(time.Now()))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		_ = m.probe(ctx) // recorded by probe; Stop ends the loop via ctx
	}
}

// untilDue returns how long until the latest result is Interval old.
func (m *Monitor) untilDue(now time.Time) time.Duration {
	m.mu.Lock()
	at := m.snap.CheckedAt
	m.mu.Unlock()
	if at.IsZero() {
		return 0
	}
	return max(at.Add(m.interval).Sub(now), 0)
}
