package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/saturate"
)

// Breaker guards calls to one destination with a circuit breaker, in two
// steps: ask, then report. [*CircuitBreaker] is the implementation the
// package provides; the interface lets another one (for example a breaker
// whose state is shared between processes) take its place in [Breakers]
// and [Gate].
type Breaker interface {
	// Allow asks to make one call. When the breaker lets it through,
	// Allow returns done, which the caller must call exactly once with the
	// call's outcome (nil for success). When the breaker refuses, Allow
	// returns an error of class ClassUnavailable that matches
	// ErrBreakerOpen and carries a classify.RetryAfter hint.
	Allow(ctx context.Context) (done func(err error), err error)
	// Peek returns what Allow would answer now, nil or the refusal,
	// without reserving a call. Gates use it.
	Peek() error
	// State returns the breaker's current state.
	State() BreakerState
}

// BreakerState is the state of a circuit breaker. The zero value is
// BreakerClosed.
type BreakerState uint8

// The breaker states.
const (
	// BreakerClosed lets every call through and counts failures.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen lets a bounded number of probe calls through; their
	// success closes the breaker, a failure opens it again.
	BreakerHalfOpen
	// BreakerOpen refuses every call until its open timeout passes.
	BreakerOpen
)

var breakerStateNames = [...]string{BreakerClosed: "closed", BreakerHalfOpen: "half-open", BreakerOpen: "open"}

// String returns "closed", "half-open" or "open", or "breaker-state(N)"
// for a value outside the defined set.
func (s BreakerState) String() string {
	if int(s) < len(breakerStateNames) {
		return breakerStateNames[s]
	}
	return fmt.Sprintf("breaker-state(%d)", uint8(s))
}

// MarshalText encodes the state as its name. It fails for an undefined
// state.
func (s BreakerState) MarshalText() ([]byte, error) {
	if int(s) >= len(breakerStateNames) {
		return nil, fmt.Errorf("health: cannot marshal undefined breaker state %d", uint8(s))
	}
	return []byte(breakerStateNames[s]), nil
}

// Defaults of [BreakerConfig].
const (
	DefaultConsecutiveFailures = 5
	DefaultFailureRatio        = 0.5
	DefaultMinRequests         = 20
	DefaultWindow              = time.Minute
	DefaultOpenTimeout         = 30 * time.Second
	DefaultHalfOpenRequests    = 1
)

// windowBuckets is how many buckets the rolling failure-ratio window is
// split into: the window forgets old outcomes a sixth at a time.
const windowBuckets = 6

// MaxBreakerWindow is the longest BreakerConfig.Window NewCircuitBreaker
// accepts: a year. Longer windows overflowed the rolling counter's
// arithmetic, and the breaker panicked on its first call.
const MaxBreakerWindow = 365 * 24 * time.Hour

// BreakerConfig configures a [CircuitBreaker]. Every field has a default
// for its zero value.
//
// The breaker counts outcomes by class (see classify.Of): ClassOK and
// ClassDuplicate are successes; ClassEphemeral is a failure, unless the
// context passed to Allow has ended (the caller gave up, the destination
// did not fail); every other class, ClassPermanent, ClassDiscard and
// ClassUnavailable (which includes context.Canceled), is ignored, so a storm
// of 400 responses never opens the breaker.
type BreakerConfig struct {
	// Name names the breaker in errors and in OnStateChange. In [Breakers]
	// it is the destination key.
	Name string
	// ConsecutiveFailures trips the breaker after this many failures in a
	// row. Zero means DefaultConsecutiveFailures; a negative value
	// disables this trigger.
	ConsecutiveFailures int
	// FailureRatio trips the breaker when failures make up at least this
	// share of the counted outcomes in the Window, once there are at least
	// MinRequests of them. Zero means DefaultFailureRatio; a negative value
	// disables this trigger. It must not exceed 1.
	FailureRatio float64
	// MinRequests is how many counted outcomes the Window must hold before
	// FailureRatio applies. Zero means DefaultMinRequests.
	MinRequests int
	// Window is the rolling period over which the closed breaker counts
	// outcomes. Zero means DefaultWindow; at most MaxBreakerWindow.
	Window time.Duration
	// OpenTimeout is how long the breaker stays open before it lets probe
	// calls through (half-open). Zero means DefaultOpenTimeout.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many calls a half-open breaker lets through,
	// and how many successes in a row close it again. Zero means
	// DefaultHalfOpenRequests.
	HalfOpenRequests int
	// OnStateChange, if set, is called with the breaker's Name on every
	// state change. Calls are made one at a time, in order, outside the
	// breaker's lock (so the hook may use the breaker), by a goroutine that
	// was using the breaker.
	OnStateChange func(name string, from, to BreakerState)
}

// CircuitBreaker is the package's [Breaker], built on
// github.com/sony/gobreaker/v2's two-step breaker. It is safe for concurrent
// use. Allow and Peek on a closed breaker take no lock.
type CircuitBreaker struct {
	name         string
	cb           *gobreaker.TwoStepCircuitBreaker[struct{}]
	exec         *gobreaker.CircuitBreaker[struct{}] // cb's own breaker, for Do; nil if it cannot be read
	openTimeout  time.Duration
	halfOpenMax  uint32
	halfOpenHint time.Duration
	epoch        time.Time // origin of openUntil, for a monotonic clock

	// state mirrors the gobreaker state, written in its state-change
	// callback; openUntil is when an open breaker turns half-open, as a
	// duration since epoch.
	state     atomic.Uint32
	openUntil atomic.Int64

	hook        func(name string, from, to BreakerState)
	eventsMu    sync.Mutex
	events      []breakerEvent
	pending     atomic.Bool
	dispatching sync.Mutex
}

type breakerEvent struct{ from, to BreakerState }

// Outcomes as handed to gobreaker: nil is a success.
var (
	errCounted  = errors.New("health: counted failure")
	errExcluded = errors.New("health: excluded outcome")
)

// NewCircuitBreaker returns a closed breaker for cfg. It returns an error
// naming the field when cfg is invalid.
func NewCircuitBreaker(cfg BreakerConfig) (*CircuitBreaker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newCircuitBreaker(cfg), nil
}

// withDefaults validates cfg and fills in the defaults.
func (cfg BreakerConfig) withDefaults() (BreakerConfig, error) {
	bad := func(format string, args ...any) (BreakerConfig, error) {
		return cfg, fmt.Errorf("health: breaker %q: BreakerConfig."+format, append([]any{cfg.Name}, args...)...)
	}
	switch {
	case int64(cfg.ConsecutiveFailures) > math.MaxUint32:
		return bad("ConsecutiveFailures is too large: %d", cfg.ConsecutiveFailures)
	case math.IsNaN(cfg.FailureRatio) || cfg.FailureRatio > 1:
		return bad("FailureRatio must be at most 1, got %v", cfg.FailureRatio)
	case cfg.ConsecutiveFailures < 0 && cfg.FailureRatio < 0:
		return bad("ConsecutiveFailures and FailureRatio cannot both be disabled")
	case cfg.MinRequests < 0 || int64(cfg.MinRequests) > math.MaxUint32:
		return bad("MinRequests must be between 0 and 2^32-1, got %d", cfg.MinRequests)
	case cfg.Window < 0:
		return bad("Window must not be negative, got %v", cfg.Window)
	case cfg.Window > MaxBreakerWindow:
		return bad("Window must be at most %v (MaxBreakerWindow), got %v", MaxBreakerWindow, cfg.Window)
	case cfg.OpenTimeout < 0:
		return bad("OpenTimeout must not be negative, got %v", cfg.OpenTimeout)
	case cfg.HalfOpenRequests < 0 || int64(cfg.HalfOpenRequests) > math.MaxUint32:
		return bad("HalfOpenRequests must be between 0 and 2^32-1, got %d", cfg.HalfOpenRequests)
	}
	cfg.ConsecutiveFailures = orDefault(cfg.ConsecutiveFailures, DefaultConsecutiveFailures)
	cfg.FailureRatio = orDefault(cfg.FailureRatio, DefaultFailureRatio)
	cfg.MinRequests = orDefault(cfg.MinRequests, DefaultMinRequests)
	cfg.Window = orDefault(cfg.Window, DefaultWindow)
	cfg.OpenTimeout = orDefault(cfg.OpenTimeout, DefaultOpenTimeout)
	cfg.HalfOpenRequests = orDefault(cfg.HalfOpenRequests, DefaultHalfOpenRequests)
	return cfg, nil
}

// newCircuitBreaker builds a breaker from a config that withDefaults has
// already validated and completed.
func newCircuitBreaker(cfg BreakerConfig) *CircuitBreaker {
	b := &CircuitBreaker{
		name:         cfg.Name,
		openTimeout:  cfg.OpenTimeout,
		halfOpenMax:  uint32(cfg.HalfOpenRequests),
		halfOpenHint: min(time.Second, cfg.OpenTimeout),
		epoch:        time.Now(),
		hook:         cfg.OnStateChange,
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:          cfg.Name,
		MaxRequests:   uint32(cfg.HalfOpenRequests),
		Interval:      cfg.Window,
		BucketPeriod:  cfg.Window / windowBuckets,
		Timeout:       cfg.OpenTimeout,
		ReadyToTrip:   readyToTrip(cfg),
		OnStateChange: b.changed,
		IsSuccessful:  func(err error) bool { return err == nil },
		// Every outcome but a counted failure is excluded: the ones done
		// is given are nil, errCounted and errExcluded, and the one
		// Execute makes of a panic in Do's call is not counted either.
		IsExcluded: func(err error) bool { return err != nil && err != errCounted },
	})
	b.exec = innerBreaker(b.cb)
	return b
}

// innerBreaker returns the gobreaker.CircuitBreaker that ts wraps, so that
// Do can call its Execute, which allocates nothing, where the two-step
// Allow allocates its done func on every call. Both work on the same
// state. gobreaker keeps it in TwoStepCircuitBreaker's one, unexported
// field; innerBreaker reads it only when the struct is laid out as that
// (checked by reflection), and returns nil otherwise, which makes Do use
// the two-step breaker.
func innerBreaker(ts *gobreaker.TwoStepCircuitBreaker[struct{}]) *gobreaker.CircuitBreaker[struct{}] {
	v := reflect.ValueOf(ts).Elem()
	if v.NumField() != 1 || v.Field(0).Type() != reflect.TypeFor[*gobreaker.CircuitBreaker[struct{}]]() {
		return nil
	}
	return (*gobreaker.CircuitBreaker[struct{}])(v.Field(0).UnsafePointer())
}

// readyToTrip returns gobreaker's trip rule for cfg: consecutive failures,
// or a failure ratio over at least MinRequests counted outcomes.
func readyToTrip(cfg BreakerConfig) func(gobreaker.Counts) bool {
	return func(c gobreaker.Counts) bool {
		if cfg.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= uint32(cfg.ConsecutiveFailures) {
			return true
		}
		if cfg.FailureRatio < 0 {
			return false
		}
		counted := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
		return counted > 0 && counted >= uint64(cfg.MinRequests) &&
			float64(c.TotalFailures)/float64(counted) >= cfg.FailureRatio
	}
}

// Name returns the breaker's name.
func (b *CircuitBreaker) Name() string { return b.name }

// State returns the breaker's current state, turning an open breaker whose
// timeout has passed half-open.
func (b *CircuitBreaker) State() BreakerState {
	if s := BreakerState(b.state.Load()); s != BreakerOpen {
		return s
	}
	s := fromGobreaker(b.cb.State())
	b.flush()
	return s
}

// Allow asks to make one call; see [Breaker]. If ctx has already ended it
// refuses with ctx's error marked ClassUnavailable. The returned done
// ignores every call after its first.
func (b *CircuitBreaker) Allow(ctx context.Context) (func(err error), error) {
	done, err := b.begin(ctx)
	if err != nil {
		return nil, err
	}
	var called atomic.Bool
	return func(err error) {
		if called.Swap(true) {
			return
		}
		done(outcome(ctx, err))
		b.flush()
	}, nil
}

// Peek returns nil when Allow would let a call through now, and Allow's
// refusal otherwise, without reserving a call.
func (b *CircuitBreaker) Peek() error {
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		return nil
	case BreakerOpen:
		if time.Since(b.epoch) < time.Duration(b.openUntil.Load()) {
			return b.open()
		}
	}
	switch s := b.State(); s {
	case BreakerOpen:
		return b.open()
	case BreakerHalfOpen:
		if c := b.cb.Counts(); c.Requests-min(c.TotalExclusions, c.Requests) >= b.halfOpenMax {
			return b.halfOpenFull()
		}
	}
	return nil
}

// open returns the refusal of an open breaker, with the time left until it
// turns half-open as the hint.
func (b *CircuitBreaker) open() error {
	left := time.Duration(b.openUntil.Load()) - time.Since(b.epoch)
	return unavailable(fmt.Errorf("health: breaker %q is open: %w", b.name, ErrBreakerOpen), left)
}

// halfOpenFull returns the refusal of a half-open breaker whose probe calls
// are all taken. They finish soon, so the hint is short: a second, or the
// open timeout if that is shorter.
func (b *CircuitBreaker) halfOpenFull() error {
	return unavailable(fmt.Errorf("health: breaker %q is half-open with all %d probe calls taken: %w",
		b.name, b.halfOpenMax, ErrBreakerOpen), b.halfOpenHint)
}

// outcome maps a call's error to what gobreaker counts.
func outcome(ctx context.Context, err error) error {
	switch classify.Of(err) {
	case classify.ClassOK, classify.ClassDuplicate:
		return nil
	case classify.ClassEphemeral:
		if ctx.Err() != nil {
			return errExcluded // the caller gave up; the destination did not fail
		}
		return errCounted
	}
	return errExcluded
}

// changed is gobreaker's state-change callback. gobreaker holds its lock
// while calling it, so it only records; flush calls the user's hook.
func (b *CircuitBreaker) changed(_ string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		b.openUntil.Store(int64(saturate.Add(time.Since(b.epoch), b.openTimeout)))
	}
	b.state.Store(uint32(fromGobreaker(to)))
	if b.hook == nil {
		return
	}
	b.eventsMu.Lock()
	b.events = append(b.events, breakerEvent{fromGobreaker(from), fromGobreaker(to)})
	b.pending.Store(true)
	b.eventsMu.Unlock()
}

// flush calls the hook for recorded state changes, in order and one at a
// time. A goroutine that finds another one flushing leaves its events to
// it: the flushing goroutine checks for more before it stops.
func (b *CircuitBreaker) flush() {
	for b.pending.Load() {
		if !b.dispatching.TryLock() {
			return
		}
		b.eventsMu.Lock()
		events := b.events
		b.events = nil
		b.pending.Store(false)
		b.eventsMu.Unlock()
		b.dispatch(events)
	}
}

func (b *CircuitBreaker) dispatch(events []breakerEvent) {
	defer b.dispatching.Unlock()
	for _, e := range events {
		b.hook(b.name, e.from, e.to)
	}
}

func fromGobreaker(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	}
	return BreakerClosed
}
