package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/defaults"
	"github.com/outbound-go/outbound/internal/nilcheck"
	"github.com/outbound-go/outbound/retry"
	"golang.org/x/time/rate"
)

// Defaults of DispatcherConfig.
const (
	DefaultMaxPerRun      = 100 // a run is bounded: at most 100 records
	DefaultAttemptTimeout = 30 * time.Second
	DefaultPollInterval   = time.Second
	DefaultShutdownGrace  = 10 * time.Second
	DefaultStoreTimeout   = 10 * time.Second
	minDefaultLease       = 2 * time.Minute
)

// Bounds of DispatcherConfig. They keep the lease arithmetic (twice
// AttemptTimeout plus StoreTimeout, plus AttemptTimeout for the default
// lease) far from overflowing a time.Duration, which would otherwise wrap
// to a negative lease and let another worker send a record that is still
// being sent.
const (
	// MaxAttemptTimeout is the largest AttemptTimeout NewDispatcher
	// accepts: a week. A negative AttemptTimeout means no limit at all.
	MaxAttemptTimeout = 7 * 24 * time.Hour
	// MaxStoreTimeout is the largest StoreTimeout NewDispatcher accepts:
	// a day.
	MaxStoreTimeout = 24 * time.Hour
	// MaxConcurrency is the largest Concurrency NewDispatcher accepts:
	// each unit is up to a worker goroutine, two outcome writers and a
	// queue slot in every RunOnce, started as its records are handed out
	// (never more goroutines than the records it has out).
	MaxConcurrency = 10_000
)

// DispatcherConfig configures a Dispatcher. Store is required, and
// Deliverer unless Destinations or Resolve configure the destinations;
// every other field's zero value selects a documented default.
type DispatcherConfig struct {
	// Store holds the records. Required.
	Store Store
	// Deliverer sends one record's message: the default of every
	// destination without its own. Required unless Destinations or
	// Resolve is set; then records of a destination neither configures
	// wait (their destination is paused with cause "unconfigured", visible
	// in Store.Destinations, the log and the metrics) instead of being
	// sent blindly. Wrap it with middleware (rate limit, breaker, token
	// auth) as needed.
	Deliverer Deliverer
	// Destinations configures named destinations: their Deliverer, Gate,
	// MaxInFlight and Policy. See DestinationConfig.
	Destinations map[string]DestinationConfig
	// Resolve, if set, configures the destinations Destinations does not
	// name (thousands of customer endpoints): it is called once per
	// destination per Dispatcher and the answer kept; ok false means the
	// destination has no configuration. It must be safe for concurrent
	// use; a panic, or a configuration that cannot run (a nil Deliverer or
	// Gate inside the interface, an invalid Policy, a negative
	// MaxInFlight), counts as ok false.
	Resolve func(name string) (DestinationConfig, bool)
	// Policy decides retries of Ephemeral outcomes and the deferral of
	// Unavailable ones. The zero Policy is retry.DefaultPolicy(): 1m, 3m,
	// 9m, ... up to 10 attempts, then dead-letter. Its MaxElapsed counts
	// from the record's EffortStartedAt: enqueue, or its latest redrive.
	Policy retry.Policy
	// Concurrency is how many records are attempted at once. Zero means
	// 1: strictly sequential, in claim order. Records are handled by at
	// most Concurrency workers per run, started as records are handed out
	// and reused for the run's next ones, never a goroutine per record.
	// Above 1, a worker whose attempt is over starts the next one while
	// its outcome is written, by one of twice Concurrency more goroutines,
	// so a slow store write does not idle the partner and the store gets
	// more outcomes to write together; a worker starts an attempt only
	// when a writer will be free for its outcome, so the write starts as
	// soon as the attempt is over, within the record's lease. At 1, each
	// outcome is written before the next attempt. A process that dies
	// therefore leaves at most twice Concurrency records sent and not yet
	// recorded (one at Concurrency 1); they are sent again, with the same
	// IdempotencyKey, once their leases expire. More records are
	// claimed ahead and wait for a free worker, so the next claim's round
	// trip overlaps the attempts in flight: Concurrency of them, or as
	// many as the workers finish in about 50ms when that is more (quick
	// attempts), up to three times Concurrency. A queued record whose
	// lease ran too low for an attempt (see Lease) is released, not
	// attempted. At most MaxConcurrency.
	Concurrency int
	// MaxPerRun bounds how many records one RunOnce claims. Zero means
	// DefaultMaxPerRun (100).
	MaxPerRun int
	// AttemptTimeout bounds each attempt. Zero means
	// DefaultAttemptTimeout (30s); negative means no per-attempt limit. At
	// most MaxAttemptTimeout.
	AttemptTimeout time.Duration
	// Lease is how long a claimed record stays reserved for this worker.
	// A worker that dies loses its records for this long, then another
	// takes them over. It must exceed twice AttemptTimeout plus
	// StoreTimeout (the gate check and the attempt are each bounded by
	// AttemptTimeout, the outcome write by StoreTimeout), or a slow attempt
	// could be taken over and sent twice at once. The store calls an
	// answer leads to about its destination (a pause, a learned rate or
	// concurrency limit), made between the attempt and the outcome write,
	// end one StoreTimeout before the lease does (with an AttemptTimeout;
	// without one there is no bound to keep), so the write keeps its
	// StoreTimeout: a call cut off there is reported like a failed one
	// (RunOnce's error, DestinationEvent.StoreErr) and still applied by
	// this process. Zero means the larger of 2m and that bound plus
	// AttemptTimeout. With a negative AttemptTimeout (no limit) it must be
	// set explicitly.
	Lease time.Duration
	// PollInterval is how often Run looks for due records when the store
	// does not signal inserts, and how often it retries after a store
	// error. Zero means DefaultPollInterval (1s).
	PollInterval time.Duration
	// Gate, if set, is the gate of every destination without its own: it
	// is asked before each attempt, and when it refuses, the destination
	// is paused in the store for every process (until the refusal's
	// Retry-After hint, else PauseBackoff) and the record waits without
	// spending an attempt: a partner outage of any length fails no
	// records, and other destinations are not held.
	Gate Gate
	// DestinationFault decides which outcomes are the destination's, not
	// the record's: they pause the destination for the fleet (until the
	// partner's Retry-After, capped by MaxPause, else PauseBackoff) and
	// the record waits without spending an attempt. Nil means
	// DestinationFault (unreachable, DNS, TLS, proxy, breaker, 429, 503
	// with Retry-After).
	DestinationFault func(err error) bool
	// PauseBackoff is how long a destination is paused after a fault
	// without a Retry-After, by the number of pauses since it was last
	// healthy; when a pause ends, one record across the fleet probes it.
	// Nil means DefaultPauseBackoff (5s, 15s, 45s, ... up to 5m).
	PauseBackoff retry.Backoff
	// MaxPause caps a pause taken from a partner's Retry-After. Zero means
	// DefaultMaxPause (1h).
	MaxPause time.Duration
	// DisableAfter disables a destination that has been paused without a
	// healthy answer for this long, so a dead endpoint cannot hold records
	// forever unseen. Zero means DefaultDisableAfter (5 days); negative
	// never disables.
	DisableAfter time.Duration
	// DisableStatuses are HTTP statuses that disable the destination until
	// a person resumes it (Store.ResumeDestination); the record waits.
	// Nil means 410 Gone; an empty non-nil slice disables on none.
	DisableStatuses []int
	// Observer, if set, sees every outcome and every run. A panic in it is
	// recovered and logged, never allowed to end the process (see
	// Report.ObserverPanics).
	Observer Observer
	// ShutdownGrace is how long attempts in flight may finish after the
	// context passed to Run or RunOnce ends; then they are cancelled and
	// their records released without counting an attempt. Zero means
	// DefaultShutdownGrace (10s).
	ShutdownGrace time.Duration
	// StoreTimeout bounds each write of an outcome to the store, tries
	// included: a write that fails (the database restarting, a connection
	// cut) is tried again, after 25ms doubling up to 500ms, until
	// StoreTimeout has passed, so a store error of a moment does not
	// leave the record in flight to be sent again when its lease expires.
	// Writes are not cancelled by shutdown, so no record is left in
	// flight. Zero means DefaultStoreTimeout (10s). At most
	// MaxStoreTimeout.
	StoreTimeout time.Duration
	// RetryBudget, if set, bounds the retries sent to each destination
	// without its own to a share of its attempts (see RetryBudget). Nil
	// means no budget: every due retry is sent.
	RetryBudget *RetryBudget
	// RateRecovery is how long a rate learned from a partner's 429s or
	// headers holds before it climbs back, and how long the climb to the
	// destination's configured Rate takes (see DestinationConfig.Rate).
	// Zero means DefaultRateRecovery (5m).
	RateRecovery time.Duration
}

func (c DispatcherConfig) validated() (DispatcherConfig, error) {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("delivery: DispatcherConfig.Store is required"))
	}
	if c.Deliverer == nil && len(c.Destinations) == 0 && c.Resolve == nil {
		errs = append(errs, errors.New("delivery: DispatcherConfig.Deliverer is required (or Destinations / Resolve)"))
	}
	for name, dc := range c.Destinations {
		if err := ValidateDestinationName(name); err != nil {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations: %w", err))
		}
		if dc.MaxInFlight < 0 {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations[%q].MaxInFlight must not be negative, got %d", name, dc.MaxInFlight))
		} else if err := ValidateDestinationLimits(DestinationLimits{Rate: dc.Rate, Burst: dc.Burst}); err != nil {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations[%q]: %w", name, err))
		}
		if dc.Deliverer == nil && c.Deliverer == nil {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations[%q] has no Deliverer and there is no DispatcherConfig.Deliverer", name))
		}
		for _, f := range [...]struct {
			name string
			v    any
		}{{"Deliverer", dc.Deliverer}, {"Gate", dc.Gate}} {
			if nilcheck.Typed(f.v) {
				errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations[%q].%s is a nil %T: set it to a usable value or leave it unset", name, f.name, f.v))
			}
		}
		if dc.Policy != nil {
			if err := dc.Policy.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations[%q].Policy: %w", name, err))
			}
		}
		if dc.RetryBudget != nil {
			if _, err := dc.RetryBudget.validate(); err != nil {
				errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Destinations[%q]: %w", name, err))
			}
		}
	}
	if c.MaxPause < 0 {
		errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.MaxPause must not be negative, got %v", c.MaxPause))
	}
	if c.RetryBudget != nil {
		b, err := c.RetryBudget.validate()
		if err != nil {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig: %w", err))
		}
		c.RetryBudget = &b
	}
	// A nil pointer, func or map inside an interface passes the checks
	// above and then panics on the first call, in a worker goroutine
	// where the caller cannot recover it.
	for _, f := range [...]struct {
		name string
		v    any
	}{
		{"Store", c.Store}, {"Deliverer", c.Deliverer}, {"Gate", c.Gate}, {"Observer", c.Observer},
		{"PauseBackoff", c.PauseBackoff},
	} {
		if nilcheck.Typed(f.v) {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.%s is a nil %T: set it to a usable value or leave it unset", f.name, f.v))
		}
	}
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"Concurrency", int64(c.Concurrency)}, {"MaxPerRun", int64(c.MaxPerRun)},
		{"Lease", int64(c.Lease)}, {"PollInterval", int64(c.PollInterval)},
		{"ShutdownGrace", int64(c.ShutdownGrace)}, {"StoreTimeout", int64(c.StoreTimeout)},
		{"RateRecovery", int64(c.RateRecovery)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.%s must not be negative, got %d", f.name, f.v))
		}
	}
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Policy: %w", err))
	}
	if c.AttemptTimeout < 0 && c.Lease == 0 {
		errs = append(errs, errors.New("delivery: DispatcherConfig.Lease must be set when AttemptTimeout is negative (no limit): a record must stay leased longer than any attempt can take"))
	}
	defaults.Set(&c.Concurrency, 1)
	defaults.Set(&c.MaxPerRun, DefaultMaxPerRun)
	defaults.Set(&c.AttemptTimeout, DefaultAttemptTimeout)
	defaults.Set(&c.PollInterval, DefaultPollInterval)
	defaults.Set(&c.ShutdownGrace, DefaultShutdownGrace)
	defaults.Set(&c.StoreTimeout, DefaultStoreTimeout)
	defaults.Set(&c.MaxPause, DefaultMaxPause)
	defaults.Set(&c.DisableAfter, DefaultDisableAfter)
	defaults.Set(&c.RateRecovery, DefaultRateRecovery)
	if c.PauseBackoff == nil {
		c.PauseBackoff = DefaultPauseBackoff()
	}
	if c.DestinationFault == nil {
		c.DestinationFault = DestinationFault
	}
	if c.DisableStatuses == nil {
		c.DisableStatuses = []int{http.StatusGone}
	}
	if c.AttemptTimeout > MaxAttemptTimeout {
		errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.AttemptTimeout (%v) must be at most %v; set it negative for no per-attempt limit", c.AttemptTimeout, MaxAttemptTimeout))
	}
	if c.Concurrency > MaxConcurrency {
		errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Concurrency (%d) must be at most %d", c.Concurrency, MaxConcurrency))
	}
	if c.StoreTimeout > MaxStoreTimeout {
		errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.StoreTimeout (%v) must be at most %v", c.StoreTimeout, MaxStoreTimeout))
	}
	if c.AttemptTimeout > 0 && c.AttemptTimeout <= MaxAttemptTimeout && c.StoreTimeout <= MaxStoreTimeout {
		bound := c.leaseNeeded()
		if c.Lease == 0 {
			c.Lease = max(minDefaultLease, bound+c.AttemptTimeout)
		}
		if c.Lease <= bound {
			errs = append(errs, fmt.Errorf("delivery: DispatcherConfig.Lease (%v) must exceed twice AttemptTimeout plus StoreTimeout (%v): the gate check and the attempt may each take AttemptTimeout and the outcome write StoreTimeout, and a shorter lease lets another worker take the record over and send it again while it is being sent", c.Lease, bound))
		}
	}
	return c, errors.Join(errs...)
}

// leaseNeeded is the least lease that covers one record's work once it is
// claimed: the gate check and the attempt, each bounded by AttemptTimeout,
// and the outcome write, bounded by StoreTimeout. Lease must exceed it, and
// a record queued for a worker is attempted only while this much of its
// lease is left. Meaningful only with a positive AttemptTimeout.
func (c *DispatcherConfig) leaseNeeded() time.Duration {
	return 2*c.AttemptTimeout + c.StoreTimeout
}

// Dispatcher delivers the records of a Store: it claims due records, hands
// each to the Deliverer, and writes each outcome back as soon as it is
// known, so a crash never repeats finished work. What happens to
// a record follows its outcome class:
//
//	OK            delivered
//	Duplicate     delivered, flagged duplicate
//	Ephemeral     rescheduled by Policy (Retry-After as a floor); dead-lettered when attempts run out
//	Permanent     dead-lettered at once
//	Discard       discarded with the reason
//	Unavailable   deferred by Policy without counting an attempt
//
// Delivery is at-least-once: a worker that dies mid-attempt, or whose
// store stays unreachable for StoreTimeout after the attempt, leaves its
// records in flight until their lease expires, and they are then sent
// again with the same Idempotency-Key. A Dispatcher is safe for concurrent use;
// several dispatchers (in one process or many) may share a Store.
type Dispatcher struct {
	cfg     DispatcherConfig
	workers chan struct{} // one token per attempt in progress, Concurrency in all
	// unrecorded holds one token per record a worker has taken for an
	// attempt and whose outcome is not yet written: twice Concurrency in
	// all, across runs. Nil at Concurrency 1, where workers write inline.
	unrecorded chan struct{}
	dests      destinations
	claims     atomic.Uint64 // claims asked for, numbering them
	ahead      *readAhead    // records claimed ahead of the workers
	tracer     AttemptTracer // the Observer, when it traces attempts
	// freed is signalled when a settle leaves fewer than Concurrency
	// records in hand: a worker is free for a new record.
	freed chan struct{}
	// opened is signalled when a settle leaves a destination under its
	// share: a claim that skipped it may now take its records.
	opened chan struct{}
}

// NewDispatcher returns a Dispatcher for cfg, or an error naming every
// invalid field: a missing Store or Deliverer, an interface field holding
// a nil pointer or func (which would panic mid-run), a negative setting, a
// timeout or Concurrency beyond its Max bound, or a Lease too short for
// the attempt it covers.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	cfg, err := cfg.validated()
	if err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, workers: make(chan struct{}, cfg.Concurrency), ahead: newReadAhead(cfg.Concurrency), freed: make(chan struct{}, 1), opened: make(chan struct{}, 1)}
	if cfg.Concurrency > 1 {
		d.unrecorded = make(chan struct{}, 2*cfg.Concurrency)
	}
	d.tracer, _ = cfg.Observer.(AttemptTracer)
	for name := range cfg.Destinations {
		d.pipeline(name) // resolve now; their limits go to the store on the first run
	}
	return d, nil
}

// RunOnce claims and processes at most MaxPerRun due records with
// Concurrency workers and returns what happened. It returns when there is
// nothing more due (or claimable: a key whose head is waiting holds back
// its other records, a paused destination its records), when MaxPerRun
// records were claimed, or when ctx ends. After ctx ends, records not yet attempted are
// released at once and attempts in flight get ShutdownGrace to finish.
//
// The error is non-nil when claiming failed or outcomes could not be
// written; the report is valid either way. A closed gate is not an error:
// its destination is paused (see Report.GateClosed).
func (d *Dispatcher) RunOnce(ctx context.Context) (Report, error) {
	return d.runOnce(ctx, nil, nil, nil)
}

// runOnce is RunOnce; full, if not nil, is closed once the run has claimed
// MaxPerRun records and only their attempts remain; notify, if not nil,
// is the store's insert signal, which Run hands the run it waits on.
func (d *Dispatcher) runOnce(ctx context.Context, full chan<- struct{}, notify <-chan struct{}, sched *dueSignal) (Report, error) {
	r := &run{d: d, ctx: ctx, detached: context.WithoutCancel(ctx), full: full, notify: notify, sched: sched, report: Report{Started: time.Now()}}
	err := r.execute()
	r.report.Duration = time.Since(r.report.Started)
	r.report.Err = err
	d.observeRun(ctx, r.report)
	return r.report, err
}

// Run processes records until ctx ends, then returns nil once every record
// it holds is settled or released. It runs again at once while records
// remain due, and otherwise waits until the next record is due (asking the
// store when it is a NextDuer, else the earliest retry the last run
// scheduled), for an insert (when the store is a Notifier), or for
// PollInterval, whichever comes first. Its own state writes never wake it.
// A run that has claimed MaxPerRun records does not hold up the next one
// while its last attempts finish (a slow partner's, say): the next run
// starts at once, and the two share the Concurrency workers. Nor does a
// run that still has attempts out when it finds nothing more to claim:
// it claims again when one of them ends, on an insert, when a retry or
// deferral that any of Run's runs scheduled comes due, or after
// PollInterval, whichever comes first. While every one of the
// Dispatcher's Concurrency workers has a record (in any run), Run and its
// runs leave the store's insert signal, which wakes one listener, to
// other Dispatchers, and listen for it again when a worker comes free: a
// record claimed then would only wait behind slow attempts. When a claim
// finds only records it must skip (a destination at its share of the
// workers, or waiting for a token or for a hold to end), Run looks again
// when a record of a destination at its share settles, and otherwise at
// least once a second, not at once, even if the store reports them due.
// Retries and deferrals due within PollInterval are waited for to the
// moment; later ones are found at the next look. Errors from the store are reported to the Observer through each
// run's Report and retried after PollInterval.
func (d *Dispatcher) Run(ctx context.Context) error {
	var notify <-chan struct{}
	if n, ok := d.cfg.Store.(Notifier); ok {
		notify = n.Notify()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	type result struct {
		rep Report
		err error
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var earlier []chan result // full runs still finishing their attempts
	finishing := func() []chan result {
		return slices.DeleteFunc(earlier, func(c chan result) bool { return len(c) > 0 })
	}
	// ended is signalled when a full run ends: whichever it is, not the
	// oldest, which may be the one a slow partner holds.
	ended := make(chan struct{}, 1)
	sched := newDueSignal(d.cfg.PollInterval)
	for {
		full, done := make(chan struct{}), make(chan result, 1)
		wg.Go(func() {
			rep, err := d.runOnce(ctx, full, notify, sched)
			done <- result{rep, err}
			select {
			case <-full: // Run counts it in earlier, and may wait for it
				select {
				case ended <- struct{}{}:
				default: // a signal is pending: Run looks at them all
				}
			default:
			}
		})
		var res result
		select {
		case <-full:
			// Claimed its bound: start the next run while its attempts
			// finish. At most Concurrency runs are outstanding, and all
			// of them together hold at most the Dispatcher's tokens:
			// Concurrency attempts, twice that many records not yet
			// recorded.
			earlier = append(finishing(), done)
			for len(earlier) >= d.cfg.Concurrency {
				select {
				case <-ended:
				case <-ctx.Done():
					return nil
				}
				earlier = finishing()
			}
			if ctx.Err() != nil {
				return nil
			}
			continue
		case res = <-done:
		}
		rep, err := res.rep, res.err
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && rep.Claimed > 0 {
			continue // more may be due
		}
		// While earlier runs are still finishing attempts, their settles
		// may make records claimable (the next of a key, a destination's
		// free slot): look again when one of them is done, not a poll
		// interval later. Only a run's end wakes it (and a run that
		// ends without filling up signals nothing), so the dispatcher's
		// own writes never keep it running.
		var earlierEnded <-chan struct{}
		if earlier = finishing(); len(earlier) > 0 {
			earlierEnded = ended
		}
		wait := d.idleWait(ctx, rep)
		if t, ok := sched.next(time.Now()); ok {
			// A retry or deferral one of Run's runs scheduled: the store
			// may not say (not a NextDuer), nor the run that just ended.
			wait = min(wait, max(time.Until(t), recheckFloor))
		}
		deadline := time.Now().Add(wait)
		timer.Reset(wait)
	idle:
		for {
			inserts, freed := d.insertsOrFreed(notify)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
				break idle
			case <-inserts:
				timer.Stop()
				break idle
			case <-earlierEnded:
				timer.Stop()
				break idle
			case <-freed:
			case <-d.opened:
				// An earlier run settled a record of a destination the
				// last claim may have skipped for its share.
				timer.Stop()
				break idle
			case <-sched.ch:
				// An earlier run scheduled a retry or deferral: wait for it
				// too.
				if t, ok := sched.next(time.Now()); ok && t.Before(deadline) {
					deadline = t
					timer.Reset(max(time.Until(t), recheckFloor))
				}
			}
		}
	}
}

// recheckFloor bounds how soon Run looks again when the store says a record
// is already due but the run that just ended could claim nothing, so an
// inconsistent answer cannot make it spin.
const recheckFloor = 10 * time.Millisecond

// idleWait is how long Run sleeps after a run that found nothing to do.
func (d *Dispatcher) idleWait(ctx context.Context, rep Report) time.Duration {
	poll := d.cfg.PollInterval
	local := d.holdsLocally()
	if local {
		// The store does not know of the hold: its NextDue counts the
		// held records as due, hiding when others come due.
		poll = min(poll, localHoldRecheck)
	}
	if rep.Err != nil {
		return poll
	}
	due := rep.NextDue
	if nd, ok := d.cfg.Store.(NextDuer); ok {
		sctx, cancel := context.WithTimeout(ctx, d.cfg.StoreTimeout)
		at, found, err := nd.NextDue(sctx)
		cancel()
		if err != nil {
			return poll
		}
		due = time.Time{}
		if found {
			due = at
		}
	}
	if due.IsZero() {
		return poll
	}
	if opens := d.nextOpening(); rep.skippedWaiting && rep.Claimed == 0 && !due.After(time.Now()) && !opens.IsZero() {
		due = opens // what is due waits for a rate-limited destination's next token, or a local hold's end
	}
	if (local || rep.skipped) && !due.After(time.Now()) {
		// What is due is held here (its probe perhaps out), or is what
		// this process's claim skipped (a destination holding its share
		// in a full run still finishing, or waiting for a token): no
		// recheckFloor spin. A settle that takes such a destination
		// under its share wakes Run at once (d.opened).
		return min(poll, localHoldRecheck)
	}
	return min(poll, max(time.Until(due), recheckFloor))
}

// run is the state of one RunOnce.
type run struct {
	d   *Dispatcher
	ctx context.Context
	// detached is ctx without its cancellation, made once, for the store
	// calls that shutdown must not cut off (claims, settles).
	detached context.Context
	hard     context.Context // ends ShutdownGrace after ctx
	full     chan<- struct{} // closed when MaxPerRun records are claimed; may be nil
	notify   <-chan struct{} // the store's insert signal, while Run waits on this run; may be nil
	sched    *dueSignal      // Run's, told of every due time this run schedules; may be nil
	errs     []error
	mu       sync.Mutex // guards report, dues and errs
	report   Report
	dues     dueTimes // when the records this run deferred or retried come due
}

func (r *run) execute() error {
	cfg := &r.d.cfg
	lctx, cancelLimits := context.WithTimeout(r.detached, cfg.StoreTimeout)
	started, err := r.d.writeLimits(lctx)
	if err != nil {
		r.errs = append(r.errs, err)
	}
	cancelLimits()
	for _, e := range started {
		r.observeDestination(e)
	}
	r.recoverRates()
	hard, cancelHard := context.WithCancel(r.detached)
	defer cancelHard()
	stopGrace := context.AfterFunc(r.ctx, func() {
		t := time.AfterFunc(cfg.ShutdownGrace, cancelHard)
		context.AfterFunc(hard, func() { t.Stop() })
	})
	defer stopGrace()
	r.hard = hard

	// Claimed records wait in work for a free worker (see readAhead), so
	// workers never sit idle while the next claim is on its way. Both
	// channels hold every record a run can have out (Concurrency plus the
	// read-ahead, and never more than MaxPerRun), so feed and the workers
	// never wait on them.
	out := min(cfg.Concurrency+r.d.ahead.most(), cfg.MaxPerRun)
	work := make(chan claimed, out)
	finished := make(chan struct{}, out)
	// Up to Concurrency workers take the records in claim order and attempt
	// them (runs overlapping in Run share the Dispatcher's tokens; a run
	// never has more than MaxPerRun records, so it starts no more workers
	// or writers than that). A worker whose attempt is over hands its
	// outcome to one of the run's writers and takes the next record, so a
	// slow store write does not idle the partner and the store gets more
	// outcomes to write together. A worker takes an unrecorded token (the
	// Dispatcher's, twice Concurrency, shared by every run) before it
	// checks a record's lease and attempts it, and the writer gives it
	// back once the outcome is written. So at most twice Concurrency
	// records are sent and not yet recorded in the whole Dispatcher, and
	// every outcome finds a writer of its run free the moment its attempt
	// is over (the run has a writer for each record it has out, up to the
	// tokens it can hold): its
	// write starts then, as the lease check assumed (Lease covers the
	// attempt and one StoreTimeout, not a wait behind other records'
	// writes). When every token is taken, a worker waits for one before
	// it starts an attempt. At Concurrency 1 the worker writes each
	// outcome itself, holding its attempt token until the write is done,
	// so records go one at a time, even across runs at once, and in claim
	// order within a run; a writer there would only add a goroutine
	// handoff per record (which also left the feed claiming one record at
	// a time: twice the claims and 20% fewer records/s with memstore).
	//
	// Workers and writers start as records are handed out, never more
	// than the records out at once: a run that finds one record (records
	// arriving one at a time, each waking Run) starts one of each, not
	// Concurrency workers and twice as many writers. Writers started
	// cover every record out (up to the tokens), so the guarantee above
	// holds.
	var workers, writers sync.WaitGroup
	var writes chan AttemptEvent
	maxWorkers, maxWriters := min(cfg.Concurrency, cfg.MaxPerRun), 0
	if r.d.unrecorded != nil {
		writes = make(chan AttemptEvent)
		maxWriters = min(cap(r.d.unrecorded), cfg.MaxPerRun)
	}
	writer := func() {
		for e := range writes {
			r.record(&e)
			<-r.d.unrecorded
			finished <- struct{}{}
		}
	}
	worker := func() {
		for c := range work {
			if writes == nil {
				r.d.workers <- struct{}{}
				e := r.process(c)
				r.record(&e)
				<-r.d.workers
				finished <- struct{}{}
				continue
			}
			r.d.unrecorded <- struct{}{}
			r.d.workers <- struct{}{}
			e := r.process(c)
			<-r.d.workers
			writes <- e
		}
	}
	startedWorkers, startedWriters := 0, 0
	grow := func(busy int) { // called by feed alone, with the records out
		for ; startedWorkers < min(busy, maxWorkers); startedWorkers++ {
			workers.Go(worker)
		}
		for ; startedWriters < min(busy, maxWriters); startedWriters++ {
			writers.Go(writer)
		}
	}
	claimErr := r.feed(work, finished, grow)
	close(work)
	workers.Wait()
	if writes != nil {
		close(writes)
	}
	writers.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(append([]error{claimErr}, r.errs...)...)
}

// claimed is a record as handed to a worker, with the time its claim was
// asked for (its lease runs from then at the latest) and the claim's
// number in this Dispatcher (see heldBefore). rec points into the slice
// the claim returned, which is the caller's (Store.Claim): the run's
// queue of claimed records is then a few words per record, not a copy of
// each.
type claimed struct {
	rec *Record
	at  time.Time
	seq uint64
}

// feed claims records and hands them out, keeping up to the read-ahead
// (see readAhead) of claimed records queued ahead of the workers: the
// round trip of the next claim overlaps the attempts in flight instead of
// leaving finished workers idle (with PostgreSQL this was the larger part
// of the time at Concurrency 16). It stops at MaxPerRun, when nothing more
// is claimable, or when ctx ends. busy counts records handed out and not
// yet finished, in workers or queued; grow is told it after each hand-out,
// to start the workers and writers they need.
func (r *run) feed(work chan<- claimed, finished <-chan struct{}, grow func(busy int)) error {
	cfg := &r.d.cfg
	remaining, busy := cfg.MaxPerRun, 0
	done, lastDone, lastArrival := 0, 0, time.Time{} // records finished; at the last claim's arrival
	waitOne := func() bool {
		select {
		case <-finished:
			busy--
			done++
			return true
		case <-r.ctx.Done():
			return false
		}
	}
	var timer *time.Timer // waitMore's, made on its first wait
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// woke is set when the feed last woke for an insert or a due time,
	// not a finish: its next claim takes only what free workers can start
	// now, none ahead (a record claimed to wait behind slow attempts is
	// one an idle peer could have sent).
	woke := false
	waitMore := func() bool { // nothing claimable, records out: claim again when that may change
		if busy >= cfg.Concurrency {
			// No worker free: a record claimed now would only wait, so
			// leave inserts and due records to idle peers (the store's
			// signal goes to one listener) and wait for a finish.
			return waitOne()
		}
		wait := r.moreWait()
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		defer timer.Stop()
		var sched <-chan struct{}
		if r.sched != nil {
			sched = r.sched.ch
		}
		for {
			inserts, freed := r.d.insertsOrFreed(r.notify)
			select {
			case <-finished:
				busy--
				done++
				return true
			case <-inserts:
				woke = true
				return true
			case <-timer.C:
				woke = true
				return true
			case <-freed:
			case <-r.d.opened:
				return true
			case <-sched:
				// A retry or deferral scheduled, by this run or an
				// earlier one still finishing: wait for it too.
				timer.Reset(r.moreWait())
			case <-r.ctx.Done():
				return false
			}
		}
	}
	drain := func() { // collect finished workers without blocking
		for {
			select {
			case <-finished:
				busy--
				done++
			default:
				return
			}
		}
	}
	for remaining > 0 && r.ctx.Err() == nil {
		drain()
		idle := cfg.Concurrency + r.d.ahead.get() - busy
		if idle <= 0 {
			if !waitOne() {
				break
			}
			continue
		}
		want := idle
		if woke {
			want, woke = max(cfg.Concurrency-busy, 1), false
		}
		at, seq := time.Now(), r.d.claims.Add(1)
		skip, shared := r.d.overShare()
		recs, err := r.claim(min(want, remaining), skip)
		if err != nil {
			return fmt.Errorf("delivery: claim: %w", err)
		}
		if len(recs) > 0 {
			drain()
			now := time.Now()
			if !lastArrival.IsZero() {
				r.d.ahead.finished(done-lastDone, now.Sub(lastArrival))
			}
			lastDone, lastArrival = done, now
		}
		r.d.took(recs, skip[:shared])
		r.mu.Lock()
		r.report.skippedWaiting = len(skip) > shared && shared == 0
		r.report.skipped = len(skip) > 0
		r.mu.Unlock()
		if len(recs) == 0 {
			// A record in flight may be the head of a key whose next
			// record becomes claimable when it finishes; but a slow
			// attempt must not hold up records that arrive, or come due,
			// for other destinations meanwhile.
			if busy == 0 || !waitMore() {
				break
			}
			continue
		}
		r.mu.Lock()
		r.report.Claimed += len(recs)
		r.mu.Unlock()
		remaining -= len(recs)
		for i := range recs {
			work <- claimed{&recs[i], at, seq} // never blocks: it holds all a run can have out
			busy++
		}
		grow(busy)
	}
	if remaining == 0 && r.full != nil {
		close(r.full)
	}
	return nil
}

// moreWait is how long a run whose claim found nothing, with records still
// out and a worker free, waits to claim again when none of them finishes
// and the store signals no insert: until the next of the retries and
// deferrals this run scheduled comes due, or a
// rate-limited destination's next token or a local hold's end when the
// claim skipped only those; at most PollInterval (or localHoldRecheck,
// see localHold); at least recheckFloor.
func (r *run) moreWait() time.Duration {
	now := time.Now()
	r.mu.Lock()
	next, scheduled := r.dues.next(now) // one due already is held by what a finish or a token changes
	waiting := r.report.skippedWaiting
	r.mu.Unlock()
	wait := r.d.cfg.PollInterval
	if r.d.holdsLocally() {
		wait = min(wait, localHoldRecheck)
	}
	if opens := r.d.nextOpening(); waiting && !opens.IsZero() {
		wait = min(wait, opens.Sub(now))
	}
	if scheduled {
		wait = min(wait, next.Sub(now))
	}
	if r.sched != nil {
		// What Run's other runs (full ones still finishing) scheduled.
		if next, ok := r.sched.next(now); ok {
			wait = min(wait, next.Sub(now))
		}
	}
	return max(wait, recheckFloor)
}

// claim claims up to n records with a context that shutdown does not
// cancel: a claim cut off mid-statement could have leased records that
// nobody would then work or release for a whole lease. Records it returns
// after ctx ended are released by the workers.
func (r *run) claim(n int, skip []string) ([]Record, error) {
	cfg := &r.d.cfg
	ctx := newStoreContext(r.detached, cfg.StoreTimeout)
	defer ctx.stop()
	return cfg.Store.Claim(ctx, n, cfg.Lease, skip...)
}

// process handles one claimed record, claimed at or after c.at: gate,
// attempt, and the verdict on its destination, which is written before
// the next attempt starts. It returns the event record then writes.
func (r *run) process(c claimed) AttemptEvent {
	rec, claimedAt := *c.rec, c.at
	e := AttemptEvent{Record: rec}
	by := r.destinationCallsBy(claimedAt)
	p, configured := r.d.pipeline(rec.Destination)
	var v verdict
	probe := false // the record probes a destination held here alone
	switch {
	case r.ctx.Err() != nil:
		releaseUnattempted(&e, r.ctx.Err())
	case r.leaseTooShort(claimedAt):
		// It waited in the queue behind slow attempts: what is left of its
		// lease may not cover a gate check, an attempt and the outcome
		// write, so another worker could take it over mid-attempt. Give it
		// back instead; nothing is spent.
		releaseUnattempted(&e, errLeaseTooShort)
	case !configured:
		v = r.hold(&e, errUnconfigured, "unconfigured")
	case r.heldBefore(rec, c.seq, &e, &probe):
		// Claimed before this process paused or disabled its
		// destination, or held here alone (see localHold): it waits with
		// the rest, unattempted.
	case r.gateRefuses(p, &e, &v):
	default:
		v = r.attempt(p, c, &e, by, &probe)
	}
	e.Cause = classify.Cause(e.Err)
	r.applyVerdict(rec, &e, v, by)
	if probe {
		// Answered: the partner said something that is not a fault. A
		// probe released at shutdown was cut off before it heard.
		r.d.probed(rec.Destination, rec.ID, e.Attempted && e.Action != ActionRelease && !v.pause && !v.disable)
	}
	return e
}

// record writes the outcome of an attempt (e, of e.Record) to the store,
// then reports and observes it.
func (r *run) record(e *AttemptEvent) {
	rec := e.Record
	e.StoreErr = r.settle(rec, e)
	// A keyed record that is not due again has left its key's head: the
	// next record of the key may be claimable now. Lease lost and not
	// found are answers, not failures: the record is no longer this
	// process's (a retried write whose first try committed answers lease
	// lost), and the next record of its key may be claimable too.
	written := e.StoreErr == nil || isLeaseLost(e.StoreErr) || errors.Is(e.StoreErr, ErrNotFound)
	next := e.dueAgain()
	later := next.After(time.Now())
	r.d.settled(rec.Destination, rec.Key != "" && written && !later)
	r.mu.Lock()
	r.report.add(e)
	if later {
		r.dues.push(next)
		if r.sched != nil {
			r.sched.note(next)
		}
	}
	if e.StoreErr != nil && !isLeaseLost(e.StoreErr) {
		r.errs = append(r.errs, fmt.Errorf("delivery: record %q: %w", rec.ID, e.StoreErr))
	}
	r.mu.Unlock()
	r.observeAttempt(*e)
}

// verdict is what an outcome says about the record's destination.
type verdict struct {
	pause   bool      // pause the destination for the fleet
	disable bool      // disable it until a person resumes it
	resume  bool      // a probe's healthy answer: resume it
	cause   string    // why, for pause and disable
	until   time.Time // when a pause ends; zero: as pauseFor says
}

// hold makes e a wait, without an attempt, of a record whose destination
// is to be paused for err.
func (r *run) hold(e *AttemptEvent, err error, cause string) verdict {
	holdUnattempted(e, err)
	return verdict{pause: true, cause: cause}
}

// holdUnattempted makes e a deferral, due now, of a record that was not
// sent because of why: its destination's pause holds it back, and it is
// claimable the moment the pause ends.
func holdUnattempted(e *AttemptEvent, why error) {
	e.Action = ActionDefer
	e.Attempt.Class = classify.ClassUnavailable
	e.Err = why
	e.NextAttemptAt = time.Now()
}

// holdUntil notes the hold h that keeps e's deferred record back: its end
// is the report's NextDue. Under a local hold, which the store does not
// know of, the record is also due only then: due now, the store would
// hand it to any process that claims.
func (e *AttemptEvent) holdUntil(h hold) {
	e.heldUntil = h.until
	if h.local && h.until.After(e.NextAttemptAt) {
		e.NextAttemptAt = h.until
	}
}

// heldBefore makes e a wait if this process paused or disabled rec's
// destination after claim number seq was asked for, or holds it alone
// (see localHold); it sets *probe when rec is to probe the latter.
func (r *run) heldBefore(rec Record, seq uint64, e *AttemptEvent, probe *bool) bool {
	h, held, p := r.d.heldBefore(rec.Destination, rec.ID, seq)
	*probe = *probe || p
	if !held {
		return false
	}
	holdUnattempted(e, errDestinationPaused)
	e.holdUntil(h)
	return true
}

// errDestinationPaused is the reason a record claimed just before its
// destination was paused, or held by this process alone, waits
// unattempted.
var errDestinationPaused = classify.Unavailable(errors.New("delivery: destination paused; the record waits for the pause to end"))

// applyVerdict writes the verdict to the store before the record is
// settled, so no claimer takes the record back before its destination is
// paused.
func (r *run) applyVerdict(rec Record, e *AttemptEvent, v verdict, by time.Time) {
	switch {
	case v.disable:
		if h := r.disableDestination(rec.Destination, v.cause, e.Err, by); e.Action == ActionDefer {
			e.holdUntil(h)
		}
	case v.pause:
		if h := r.pauseDestination(rec.Destination, v.cause, e.Err, v.until, by); e.Action == ActionDefer {
			e.holdUntil(h)
		}
	case v.resume:
		r.resumeAfterProbe(rec.Destination, by)
	}
}

// destinationCallsBy returns when the store calls about a destination
// that an attempt's answer leads to (a pause, a learned rate or
// concurrency limit, a probe's resume), made between the attempt of a
// record claimed at claimedAt and the write of its outcome, must be done:
// one StoreTimeout before its lease ends, which the outcome's write needs.
// The zero time, with no AttemptTimeout, means no bound but StoreTimeout.
func (r *run) destinationCallsBy(claimedAt time.Time) time.Time {
	cfg := &r.d.cfg
	if cfg.AttemptTimeout <= 0 {
		return time.Time{}
	}
	return claimedAt.Add(cfg.Lease - cfg.StoreTimeout)
}

// destinationCtx returns the context of one store call about a
// destination: StoreTimeout from now, ending by by if that is sooner (see
// destinationCallsBy). A call cut off by by fails like one that took
// StoreTimeout: the change is reported with its StoreErr, and this
// process applies it anyway.
func (r *run) destinationCtx(by time.Time) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(r.d.cfg.StoreTimeout)
	if !by.IsZero() && by.Before(deadline) {
		deadline = by
	}
	return context.WithDeadline(r.detached, deadline)
}

// releaseUnattempted makes e the release, without an attempt, of a record
// that was not sent because of why.
func releaseUnattempted(e *AttemptEvent, why error) {
	e.Action = ActionRelease
	e.Attempt.Class = classify.ClassUnavailable
	e.Err = why
}

// errLeaseTooShort is the reason a record queued too long is released.
var errLeaseTooShort = classify.Unavailable(errors.New("delivery: record waited for a worker until too little of its lease was left for an attempt; released"))

// leaseTooShort reports whether a record claimed at claimedAt has less
// lease left than leaseNeeded. With no AttemptTimeout there is no bound,
// and a queued record is always attempted.
func (r *run) leaseTooShort(claimedAt time.Time) bool {
	cfg := &r.d.cfg
	if cfg.AttemptTimeout <= 0 {
		return false
	}
	return time.Since(claimedAt) >= cfg.Lease-cfg.leaseNeeded()
}

// gateRefuses asks the destination's gate before an attempt; when it
// refuses, the record waits and the destination is paused for the fleet.
func (r *run) gateRefuses(p *pipeline, e *AttemptEvent, v *verdict) bool {
	g := p.gate
	if g == nil {
		return false
	}
	ctx := r.ctx
	if t := r.d.cfg.AttemptTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	err := g.Allow(ctx)
	if err == nil {
		return false
	}
	r.mu.Lock()
	r.report.GateClosed = true
	r.report.GateErr = err
	r.mu.Unlock()
	if r.ctx.Err() != nil {
		releaseUnattempted(e, err)
		return true
	}
	cause := classify.Cause(err)
	if cause == "" || cause == "other" {
		cause = "gate_closed"
	}
	*v = r.hold(e, classify.Unavailable(err), cause)
	return true
}

// attempt delivers the record's message and decides what to do next.
func (r *run) attempt(p *pipeline, c claimed, e *AttemptEvent, by time.Time, probe *bool) verdict {
	cfg := &r.d.cfg
	rec := *c.rec
	msg := rec.Message
	msg.Attempt = rec.Attempts + 1
	if msg.CorrelationID == "" {
		msg.CorrelationID = msg.ID // stable across attempts
	}
	actx := newAttemptContext(r.hard, cfg.AttemptTimeout, msg.CorrelationID)
	defer actx.stop()
	var ctx context.Context = actx
	// Asked again after the wait for a token: a hold may have begun (or
	// begun and ended, making this record its probe) meanwhile.
	if p.limiter != nil && (!r.takeToken(p.limiter, e) || r.heldBefore(rec, c.seq, e, probe)) {
		return verdict{} // no token yet, or paused while it waited for one
	}
	if r.d.tracer != nil {
		ctx = r.traceAttempt(r.d.tracer, ctx, &msg)
		e.AttemptContext = ctx
	}
	start := time.Now()
	if p.budget != nil {
		if ok, wait, first := p.budget.take(start, rec.Attempts > 0); !ok {
			if first {
				r.observeDestination(DestinationEvent{Destination: rec.Destination, Change: DestinationBudgetExhaustedChange, Cause: "retry_budget"})
			}
			holdUnattempted(e, errRetryBudget)
			e.NextAttemptAt = start.Add(wait)
			return verdict{}
		}
	}
	err := deliverRecovering(ctx, p.deliverer, &msg)
	e.Attempted = true
	e.Err = err
	e.Attempt = NewAttempt(start, err)
	actx.response.fill(&e.Attempt) // the partner's status and words, on success too
	if err != nil && r.hard.Err() != nil {
		// Cut off by shutdown: the partner did not fail.
		e.Attempt.Class = classify.ClassUnavailable
		e.Action = ActionRelease
		return verdict{}
	}
	r.learnConcurrency(p, e, by)
	rl, hasRL := actx.response.rateLimit()
	limited, spentUntil := r.learnRate(p, e, rl, hasRL, by)
	v := verdict{resume: e.Record.Probe}
	if limited {
		// Too fast for the partner: the learner slowed the destination
		// for the fleet; the record waits for the partner's Retry-After
		// if it gave one, unattempted.
		holdAttempted(e)
		if ra, ok := classify.RetryAfter(err); ok {
			e.NextAttemptAt = e.NextAttemptAt.Add(min(ra, cfg.MaxPause))
		} else if rl.RetryAfter > 0 {
			e.NextAttemptAt = e.NextAttemptAt.Add(min(rl.RetryAfter, cfg.MaxPause))
		}
	} else {
		v = r.decide(p, e)
	}
	if !spentUntil.IsZero() && !v.pause && !v.disable && r.d.pauseNeeded(e.Record.Destination, spentUntil) {
		// The partner's quota is spent until its reset: nothing more
		// goes there, from any process, until then.
		v = verdict{pause: true, cause: causeRemaining, until: spentUntil}
	}
	return v
}

// maxTokenWait is how long a worker waits for its destination's next
// token; a longer wait sends the record back until then instead.
const maxTokenWait = 10 * time.Millisecond

// takeToken spends a token of lim for e's attempt, waiting for it when it
// comes within maxTokenWait. Otherwise the record goes back, unattempted,
// due when the token comes: a claim can hand out several records of one
// destination (one per round), more than its tokens, and its workers must
// not wait in its limiter while other destinations have due work.
func (r *run) takeToken(lim *rate.Limiter, e *AttemptEvent) bool {
	now := time.Now()
	res := lim.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	if !res.OK() || wait > maxTokenWait {
		res.CancelAt(now)
		holdUnattempted(e, errRateLimited)
		if res.OK() {
			e.NextAttemptAt = now.Add(wait)
		} else {
			e.NextAttemptAt = now.Add(time.Second)
		}
		return false
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.hard.Done():
			res.Cancel()
			releaseUnattempted(e, r.hard.Err())
			return false
		}
	}
	return true
}

// errRateLimited is the reason a record waits for its destination's token.
var errRateLimited = classify.Unavailable(errors.New("delivery: destination over its rate limit; the record waits for its next token"))

// deliverRecovering calls d and turns a panic into a Permanent error: the
// same message would panic again on every instance, so it is dead-lettered
// with the panic's value instead of crashing the process and being
// retried by the next one after its lease.
func deliverRecovering(ctx context.Context, d Deliverer, m *Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = classify.Permanent(fmt.Errorf("delivery: deliverer panicked: %v", p))
		}
	}()
	return d.Deliver(ctx, m)
}

// decide picks the action for an outcome and what it says about the
// destination. An outcome that is the destination's fault (see
// DispatcherConfig.DestinationFault) or a status that disables it leaves
// the record waiting, due now, with no attempt counted: the destination's
// pause or disable holds it back. Any other outcome of a probe resumes the
// destination: the partner answered.
func (r *run) decide(p *pipeline, e *AttemptEvent) verdict {
	cfg := &r.d.cfg
	switch {
	case e.Err == nil:
	case r.d.disables(classify.Status(e.Err)):
		holdAttempted(e)
		return verdict{disable: true, cause: "gone"}
	case cfg.DestinationFault(e.Err):
		holdAttempted(e)
		return verdict{pause: true, cause: classify.Cause(e.Err)}
	}
	v := verdict{resume: e.Record.Probe}
	switch e.Attempt.Class {
	case classify.ClassOK:
		e.Action = ActionDelivered
	case classify.ClassDuplicate:
		e.Action = ActionDuplicate
	case classify.ClassPermanent:
		e.Action = ActionDeadLetter
	case classify.ClassDiscard:
		e.Action = ActionDiscard
	case classify.ClassUnavailable:
		// Unavailable that DestinationFault does not claim (a custom
		// rule): deferred on the record's own schedule.
		if r.ctx.Err() != nil {
			e.Action = ActionRelease
			return verdict{}
		}
		delay, _ := p.policy.Next(e.Record.Attempts, time.Since(e.Record.EffortStartedAt()), e.Err)
		e.Action = ActionDefer
		e.NextAttemptAt = time.Now().Add(delay)
	default: // Ephemeral, or a class this version does not know
		err := e.Err
		if e.Attempt.Class != classify.ClassEphemeral {
			err = classify.Ephemeral(err)
			e.Attempt.Class = classify.ClassEphemeral
		}
		delay, again := p.policy.Next(e.Record.Attempts+1, time.Since(e.Record.EffortStartedAt()), err)
		if !again {
			e.Action = ActionDeadLetter
			return v
		}
		e.Action = ActionRetry
		e.NextAttemptAt = time.Now().Add(delay)
	}
	return v
}

// holdAttempted makes e a deferral, due now and without counting the
// attempt, of a record whose attempt failed for its destination's reasons.
func holdAttempted(e *AttemptEvent) {
	e.Action = ActionDefer
	e.NextAttemptAt = time.Now()
}

// settle writes the outcome to the store, with a context that shutdown does
// not cancel, so no record is left in flight.
//
// A write that fails is tried again, after 25ms, 50ms, ... up to 500ms
// (and never more than half the time left), until StoreTimeout has passed
// since the first: a store error of a moment
// (the database restarting, a connection cut mid-statement) would
// otherwise leave the record in flight, and a record whose attempt reached
// the partner would be sent again when its lease expired. Trying again is
// safe because every write is fenced by the lease: if the failed write did
// commit, the next one answers ErrLeaseLost and changes nothing. Lease
// lost, not found and invalid input are answers, not failures, and are
// returned at once.
func (r *run) settle(rec Record, e *AttemptEvent) error {
	ctx := newStoreContext(r.detached, r.d.cfg.StoreTimeout)
	defer ctx.stop()
	wait := settleRetryFirst
	for {
		err := r.write(ctx, rec, e)
		if err == nil || errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			return err
		}
		dl, _ := ctx.Deadline()
		left := time.Until(dl)
		if left < 2*settleRetryFirst {
			return err
		}
		t := time.NewTimer(min(wait, left/2)) // the last tries get the time left
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, settleRetryMax)
	}
}

// The waits between tries of a failed outcome write (see settle).
const (
	settleRetryFirst = 25 * time.Millisecond
	settleRetryMax   = 500 * time.Millisecond
)

// write writes e's outcome for rec to the store once.
func (r *run) write(ctx context.Context, rec Record, e *AttemptEvent) error {
	cfg := &r.d.cfg
	l := rec.Lease()
	switch e.Action {
	case ActionDelivered, ActionDuplicate:
		return cfg.Store.Complete(ctx, l, e.Attempt, e.Action == ActionDuplicate)
	case ActionRetry:
		a := e.Attempt // a copy, so that e, handed to the store's interface by pointer, stays on the stack
		return cfg.Store.Reschedule(ctx, l, e.NextAttemptAt, &a)
	case ActionDeadLetter:
		return cfg.Store.DeadLetter(ctx, l, e.Attempt)
	case ActionDiscard:
		return cfg.Store.Discard(ctx, l, e.Attempt)
	case ActionDefer:
		return cfg.Store.Reschedule(ctx, l, e.NextAttemptAt, nil)
	default:
		return cfg.Store.Release(ctx, l)
	}
}

func isLeaseLost(err error) bool { return errors.Is(err, ErrLeaseLost) }
