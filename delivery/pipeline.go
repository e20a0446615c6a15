package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/nilcheck"
	"github.com/outbound-go/outbound/retry"
	"golang.org/x/time/rate"
)

// Defaults of the destination settings in DispatcherConfig.
const (
	DefaultMaxPause     = time.Hour
	DefaultDisableAfter = 5 * 24 * time.Hour
)

// DefaultPauseBackoff is how long a destination is paused after a failure
// that says nothing about the record, by the number of pauses since it was
// last healthy: 5s, 15s, 45s, ... capped at 5 minutes.
func DefaultPauseBackoff() retry.Backoff {
	return retry.Exponential{Initial: 5 * time.Second, Factor: 3, Max: 5 * time.Minute}
}

// DestinationConfig is the pipeline of one destination in a Dispatcher.
// Zero fields take the Dispatcher-wide setting.
type DestinationConfig struct {
	// Deliverer sends this destination's records. Nil means
	// DispatcherConfig.Deliverer.
	Deliverer Deliverer
	// Gate is asked before each attempt. Nil means DispatcherConfig.Gate.
	Gate Gate
	// MaxInFlight bounds this destination's records leased at once across
	// every process on the store (Store.SetDestinationLimits): three
	// dispatchers of Concurrency 16 and a MaxInFlight of 4 put at most 4
	// requests in flight at the partner. Zero means no bound. The
	// dispatcher writes it to the store when it first runs (configured
	// destinations) or first meets the destination (resolved ones); the
	// last writer wins.
	MaxInFlight int
	// Policy decides this destination's retries. Nil means
	// DispatcherConfig.Policy.
	Policy *retry.Policy
	// Rate bounds how many of this destination's records are claimed per
	// second across every process on the store (DestinationLimits.Rate:
	// GCRA kept in the store and taken inside Claim, so four instances
	// with Rate 20 send 20 a second between them, not 80). Zero means no
	// bound. Written to the store like MaxInFlight.
	//
	// It is a ceiling: the Dispatcher learns the rate the partner accepts
	// under it and keeps the store's rate there for the fleet. A 429
	// lowers it to the share of recent requests the partner accepted
	// (the record waits, unattempted, and the destination is not
	// paused); a RateLimit-Policy the Deliverer reports (ReportRateLimit)
	// lowers it to what the partner publishes; a remaining quota it
	// reports (X-RateLimit-Remaining r until X-RateLimit-Reset t, or
	// RateLimit r and t) lowers it to r/t when that is at least 5% under
	// the rate in force (answers that leave plenty change nothing), and a
	// quota spent (r = 0) pauses the destination for the fleet until the
	// reset, capped by DispatcherConfig.MaxPause. It holds for
	// DispatcherConfig.RateRecovery, then climbs back to Rate over as
	// long again. Each change is a DestinationEvent (DestinationRateChange).
	Rate float64
	// Burst is how many records may be claimed at once after an idle
	// spell (DestinationLimits.Burst); zero with a Rate means 1.
	Burst int
	// RateLimit, if set, paces this destination's attempts in this
	// process. A destination with no token to spend is not claimed, so no
	// worker waits inside one partner's limiter while others have due
	// work. (It is this process's limit: give each instance its share, or
	// see the fleet-wide limits.)
	RateLimit *rate.Limiter
	// RetryBudget, if set, bounds this destination's retries to a share
	// of its attempts (see RetryBudget). Nil means
	// DispatcherConfig.RetryBudget.
	RetryBudget *RetryBudget
	// AdaptiveConcurrency makes MaxInFlight a ceiling: the store's
	// MaxInFlight, which bounds the leases of every process, is adapted
	// between 1 and it by AIMD on latency and overload (it grows while
	// answers come back in about the lowest latency seen, is halved on a
	// 429, a 503 or a timeout, and loses 10% on an answer that queued at
	// the partner). It needs a MaxInFlight; without one it does nothing.
	AdaptiveConcurrency bool
}

// pipeline is a destination's resolved configuration.
type pipeline struct {
	deliverer Deliverer
	gate      Gate
	policy    retry.Policy
	limiter   *rate.Limiter
	budget    *budget      // nil: no retry budget
	learner   *rateLearner // nil: no Rate to learn under
	conc      *concLearner // nil: MaxInFlight is fixed
}

// destinations is a Dispatcher's view of its destinations: their resolved
// pipelines and what this process knows of their pauses.
type destinations struct {
	mu        sync.Mutex
	pipelines map[string]*pipeline         // nil entry: known to have no configuration
	limits    map[string]DestinationLimits // limits still to write to the store
	held      map[string]hold              // pauses and disables this process recorded
	local     map[string]*localHold        // destinations held here alone: the store did not take their pause
	inHand    map[string]int               // records claimed and not yet settled, by destination
	out       int                          // records claimed and not yet settled, in all
	limited   map[string]*rate.Limiter     // the destinations with a RateLimit
	active    int                          // destinations seen with due work at the last claim
	learners  map[string]*rateLearner      // the destinations with a Rate
}

// errUnconfigured is the reason records of a destination without a
// configuration wait.
var errUnconfigured = classify.Unavailable(errors.New("delivery: this dispatcher has no configuration for the destination (DispatcherConfig.Destinations, Resolve or Deliverer); its records wait"))

// pipeline returns the pipeline for name, resolving it once; ok is false
// when the dispatcher has none.
func (d *Dispatcher) pipeline(name string) (*pipeline, bool) {
	ds := &d.dests
	ds.mu.Lock()
	p, seen := ds.pipelines[name]
	ds.mu.Unlock()
	if seen {
		return p, p != nil
	}
	cfg := &d.cfg
	dc, ok := cfg.Destinations[name]
	if !ok && cfg.Resolve != nil {
		dc, ok = resolveRecovering(cfg.Resolve, name)
		if ok && !usable(dc) {
			dc, ok = DestinationConfig{}, false // wait, visibly, rather than fail every attempt
		}
	}
	if !ok && cfg.Deliverer == nil {
		p = nil
	} else {
		p = d.newPipeline(dc)
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.pipelines == nil {
		ds.pipelines = make(map[string]*pipeline)
	}
	if existing, raced := ds.pipelines[name]; raced {
		return existing, existing != nil
	}
	ds.pipelines[name] = p
	if p != nil && p.learner != nil {
		if ds.learners == nil {
			ds.learners = make(map[string]*rateLearner)
		}
		ds.learners[name] = p.learner
	}
	if p != nil && p.limiter != nil {
		if ds.limited == nil {
			ds.limited = make(map[string]*rate.Limiter)
		}
		ds.limited[name] = p.limiter
	}
	if p != nil && ok {
		if ds.limits == nil {
			ds.limits = make(map[string]DestinationLimits)
		}
		ds.limits[name] = p.startLimits(dc)
	}
	return p, p != nil
}

func (d *Dispatcher) newPipeline(dc DestinationConfig) *pipeline {
	p := &pipeline{deliverer: dc.Deliverer, gate: dc.Gate, policy: d.cfg.Policy, limiter: dc.RateLimit}
	if p.deliverer == nil {
		p.deliverer = d.cfg.Deliverer
	}
	if p.gate == nil {
		p.gate = d.cfg.Gate
	}
	if dc.Policy != nil {
		p.policy = *dc.Policy
	}
	rb := d.cfg.RetryBudget
	if dc.RetryBudget != nil {
		rb = dc.RetryBudget
	}
	if rb != nil {
		if b, err := rb.validate(); err == nil {
			p.budget = newBudget(b)
		}
	}
	if dc.AdaptiveConcurrency && dc.MaxInFlight > 0 {
		p.conc = newConcLearner(dc.MaxInFlight)
	}
	if dc.Rate > 0 {
		p.learner = newRateLearner(DestinationLimits{MaxInFlight: dc.MaxInFlight, Rate: dc.Rate, Burst: dc.Burst}, d.cfg.RateRecovery)
		p.learner.conc = p.conc
	}
	return p
}

// startLimits are the limits first written for a destination configured
// with dc: with AdaptiveConcurrency, MaxInFlight starts at the learner's.
func (p *pipeline) startLimits(dc DestinationConfig) DestinationLimits {
	l := DestinationLimits{MaxInFlight: dc.MaxInFlight, Rate: dc.Rate, Burst: dc.Burst}
	if p.conc != nil {
		l.MaxInFlight = p.conc.current()
	}
	return l
}

// usable reports whether a resolved configuration can be run: no typed
// nil Deliverer or Gate, a valid Policy, valid limits.
func usable(dc DestinationConfig) bool {
	if nilcheck.Typed(dc.Deliverer) || nilcheck.Typed(dc.Gate) ||
		ValidateDestinationLimits(DestinationLimits{MaxInFlight: dc.MaxInFlight, Rate: dc.Rate, Burst: dc.Burst}) != nil {
		return false
	}
	if dc.RetryBudget != nil {
		if _, err := dc.RetryBudget.validate(); err != nil {
			return false
		}
	}
	return dc.Policy == nil || dc.Policy.Validate() == nil
}

// resolveRecovering calls resolve, treating a panic as "no configuration".
func resolveRecovering(resolve func(string) (DestinationConfig, bool), name string) (dc DestinationConfig, ok bool) {
	defer func() {
		if recover() != nil {
			dc, ok = DestinationConfig{}, false
		}
	}()
	return resolve(name)
}

// writeLimits writes the limits of every destination configured or
// resolved since the last call to the store; failures are kept for the
// next call. It returns the limits in force for the learned ones (a Rate,
// AdaptiveConcurrency) as events of cause "start", so that gauges show
// them before they first change.
func (d *Dispatcher) writeLimits(ctx context.Context) ([]DestinationEvent, error) {
	ds := &d.dests
	ds.mu.Lock()
	pending := ds.limits
	ds.limits = nil
	ds.mu.Unlock()
	var errs []error
	var events []DestinationEvent
	failed := map[string]DestinationLimits{}
	for name, l := range pending {
		l = d.keepLearned(ctx, name, l)
		if err := d.cfg.Store.SetDestinationLimits(ctx, name, l); err != nil {
			errs = append(errs, fmt.Errorf("delivery: limits of destination %q: %w", name, err))
			failed[name] = l
			continue
		}
		ds.mu.Lock()
		p := ds.pipelines[name]
		ds.mu.Unlock()
		if p != nil && p.learner != nil {
			events = append(events, DestinationEvent{Destination: name, Change: DestinationRateChange, Cause: causeStart, Rate: l.Rate})
		}
		if p != nil && p.conc != nil {
			events = append(events, DestinationEvent{Destination: name, Change: DestinationConcurrencyChange, Cause: causeStart, InFlight: l.MaxInFlight})
		}
	}
	if len(failed) > 0 {
		ds.mu.Lock()
		if ds.limits == nil {
			ds.limits = failed
		} else {
			for k, v := range failed {
				if _, newer := ds.limits[k]; !newer {
					ds.limits[k] = v
				}
			}
		}
		ds.mu.Unlock()
	}
	return events, errors.Join(errs...)
}

// causeStart is the cause of the events that report a destination's
// learned limits in force when a Dispatcher starts with it.
const causeStart = "start"

// keepLearned returns l with what the fleet learned for name in place of
// the configured ceilings, when the store holds it (LimitsReader): a rate
// under the configured Rate, a MaxInFlight under the configured one with
// AdaptiveConcurrency. A process that starts, or first meets the
// destination, joins what the others learned instead of resetting it; its
// learners take it as their own.
func (d *Dispatcher) keepLearned(ctx context.Context, name string, l DestinationLimits) DestinationLimits {
	lr, ok := d.cfg.Store.(LimitsReader)
	if !ok {
		return l
	}
	d.dests.mu.Lock()
	p := d.dests.pipelines[name]
	d.dests.mu.Unlock()
	if p == nil || (p.learner == nil && p.conc == nil) {
		return l
	}
	stored, err := lr.DestinationLimits(ctx, name)
	if err != nil {
		return l
	}
	if p.learner != nil && stored.Rate > 0 && stored.Rate < l.Rate {
		p.learner.adopt(time.Now(), stored.Rate)
		l.Rate = stored.Rate
	}
	if p.conc != nil && stored.MaxInFlight > 0 && stored.MaxInFlight <= p.conc.ceiling {
		p.conc.adopt(stored.MaxInFlight)
		l.MaxInFlight = stored.MaxInFlight
	}
	return l
}

// hold is a pause or disable this process recorded for a destination.
type hold struct {
	claims uint64    // claims asked for when it was recorded
	until  time.Time // when the pause ends; zero for a disable
	// local is set (in a hold returned, not one recorded) when the store
	// did not take the pause or disable: the destination's records are
	// held by this process alone (see localHold), until until.
	local bool
}

// heldBefore reports whether record id of name, from claim number seq,
// waits, and until when (zero: until a disable is lifted, or due now):
// this process paused or disabled name after that claim was asked for,
// so the record, already in hand, waits with the rest. Claims asked for
// later went to a store that already knew of the pause (or of a resume
// since), so the store decides for them, unless it did not take it: then
// a local hold decides (see localHold), and probe reports that the record
// is to be its probe.
func (d *Dispatcher) heldBefore(name, id string, seq uint64) (h hold, held, probe bool) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if until, held, probe := ds.localHeld(name, id, time.Now()); held || probe {
		return hold{until: until, local: true}, held, probe
	}
	h, ok := ds.held[name]
	return h, ok && seq <= h.claims, false
}

// recordHold notes that this process paused (until non-zero) or disabled
// name now.
func (d *Dispatcher) recordHold(name string, until time.Time) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.held == nil {
		ds.held = make(map[string]hold)
	}
	ds.held[name] = hold{claims: d.claims.Load(), until: until}
}

// pauseFor is the pause to record after err: until the partner's
// Retry-After (capped by MaxPause), else for PauseBackoff by the number of
// pauses the store counts.
func (d *Dispatcher) pauseFor(cause string, err error) Pause {
	p := Pause{Cause: cause, Reason: errText(err)}
	if ra, ok := classify.RetryAfter(err); ok && ra > 0 {
		p.Until = time.Now().Add(min(ra, d.cfg.MaxPause))
		return p
	}
	p.Length = func(n int) time.Duration { return max(d.cfg.PauseBackoff.Delay(n), time.Second) }
	p.Until = time.Now().Add(p.Length(1))
	return p
}

// pauseNeeded reports whether name should be paused until until: false
// when this process paused it already until then (within a second), so
// that the answers of one spent quota, which all say so, write one pause.
func (d *Dispatcher) pauseNeeded(name string, until time.Time) bool {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	h, ok := ds.held[name]
	return !ok || (!h.until.IsZero() && h.until.Before(until.Add(-time.Second)))
}

// pauseDestination pauses name for the fleet after err, until until when
// it is set, else as pauseFor says, disabling it when it has been paused
// longer than DisableAfter. It returns the hold it recorded: the pause's
// end, and whether the store failed to take it, so that this process
// holds the destination alone (see localHold).
func (r *run) pauseDestination(name, cause string, err error, until, by time.Time) hold {
	d := r.d
	p := d.pauseFor(cause, err)
	if !until.IsZero() {
		p.Until, p.Length = until, nil
	}
	ctx, cancel := r.destinationCtx(by)
	defer cancel()
	st, serr := d.cfg.Store.PauseDestination(ctx, name, p)
	until = p.Until
	switch {
	case serr != nil:
		until = d.holdLocally(name, p)
	case st.PausedUntil.After(until):
		until = st.PausedUntil
		fallthrough
	default:
		d.endLocalHold(name)
	}
	d.recordHold(name, until)
	r.observeDestination(DestinationEvent{Destination: name, Change: DestinationPausedChange, Until: until, Cause: cause, Err: err, StoreErr: serr})
	if serr == nil && d.cfg.DisableAfter > 0 && !st.PausedSince.IsZero() && time.Since(st.PausedSince) >= d.cfg.DisableAfter {
		return r.disableDestination(name, "paused_too_long",
			fmt.Errorf("delivery: destination paused since %v, longer than DisableAfter (%v); last: %w", st.PausedSince.Format(time.RFC3339), d.cfg.DisableAfter, err), by)
	}
	return hold{until: until, local: serr != nil}
}

// disableDestination disables name for the fleet after err. It returns
// the hold it recorded: when the store failed to take the disable, this
// process holds the destination alone as it would for a pause (see
// localHold), and the probe's answer tries the disable again.
func (r *run) disableDestination(name, cause string, err error, by time.Time) hold {
	ctx, cancel := r.destinationCtx(by)
	defer cancel()
	serr := r.d.cfg.Store.DisableDestination(ctx, name, cause, errText(err))
	var h hold
	if serr != nil {
		h = hold{until: r.d.holdLocally(name, r.d.pauseFor(cause, err)), local: true}
	} else {
		r.d.endLocalHold(name)
	}
	r.d.recordHold(name, time.Time{})
	r.observeDestination(DestinationEvent{Destination: name, Change: DestinationDisabledChange, Until: h.until, Cause: cause, Err: err, StoreErr: serr})
	return h
}

// resumeAfterProbe reports a probe's healthy answer to the store.
func (r *run) resumeAfterProbe(name string, by time.Time) {
	ctx, cancel := r.destinationCtx(by)
	defer cancel()
	ok, serr := r.d.cfg.Store.ResumeAfterProbe(ctx, name)
	ds := &r.d.dests
	ds.mu.Lock()
	delete(ds.held, name)
	delete(ds.local, name)
	ds.mu.Unlock()
	if ok || serr != nil {
		r.observeDestination(DestinationEvent{Destination: name, Change: DestinationResumedChange, StoreErr: serr})
	}
}

func (r *run) observeDestination(e DestinationEvent) {
	if e.StoreErr != nil {
		r.mu.Lock()
		r.errs = append(r.errs, fmt.Errorf("delivery: %s destination %q: %w", e.Change, e.Destination, e.StoreErr))
		r.mu.Unlock()
	}
	if do, ok := r.d.cfg.Observer.(DestinationObserver); ok {
		r.callObserver("ObserveDestination", func() { do.ObserveDestination(r.ctx, e) })
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// disables reports whether status disables a destination.
func (d *Dispatcher) disables(status int) bool {
	return status != 0 && slices.Contains(d.cfg.DisableStatuses, status)
}
