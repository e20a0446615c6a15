package delivery

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// DefaultRateRecovery is how long a learned rate holds before it climbs
// back, and how long the climb to the configured Rate takes.
const DefaultRateRecovery = 5 * time.Minute

// Settings of the rate learner.
const (
	// rateSample is how long, and rateSamples how many answers, the
	// learner watches after a change before it judges the new rate.
	rateSample  = 2 * time.Second
	rateSamples = 20
	// A cut halves the rate while the partner accepts less than half of
	// what is sent, takes 20% off while it accepts less than 80%, and 5%
	// once it accepts more.
	rateMinCut  = 0.5
	rateMidCut  = 0.8
	rateFineCut = 0.95
	// rateRewrite is the least relative change of a recovering rate that
	// is written to the store, and the least cut a partner's remaining
	// quota makes.
	rateRewrite = 0.05
	// resetResolution is how far a reset given in whole seconds may be
	// from the true one (X-RateLimit-Reset: 1 may be 0.01s away).
	resetResolution = time.Second
)

// Causes of a rate change the Dispatcher reports (DestinationEvent.Cause).
const (
	causePolicy    = "ratelimit_policy"
	causeRemaining = "ratelimit_remaining"
)

// rateLearner learns the rate a partner accepts for one destination with
// a configured Rate (the ceiling), and keeps the store's Rate at it for
// the fleet.
//
// A 429 means the rate in force is too high, but halving on every 429
// (each of the many in flight at once) settles far under the partner's
// limit. The learner watches the answers for rateSample after the rate
// last changed, then compares the share the partner accepted with the
// rate they were sent at (the rate in force, plus the burst GCRA grants
// at once), which bounds the rate the partner accepted from above: while
// that bound is under half the rate (sending 100/s to one that accepts
// 20/s, about 20% succeed) it halves the rate, as AIMD's multiplicative
// decrease does; while it is under 80%, a cut takes 20% off; once it is
// closer, 5%, so the rate settles within 5% under the partner's limit
// instead of anywhere down to half of it. (A 5% step can end just over
// the limit; the partner then refuses nothing until the excess has spent
// what is left of its burst, and that 429 brings the next step. The
// middle step is for a fleet that cannot keep up with its limit: it
// sends less than the limit, sees more of it accepted, and 5% steps of a
// limit that does not bind would take many samples to reach the
// partner's.) The share only picks the
// step: one process's sample is noisy, and the process that judges first
// is the one that saw the most 429s. Before it cuts, it reads the fleet's
// rate from the store (LimitsReader): when another process cut it since,
// it takes that rate as its own and watches again, so cuts do not stack;
// within a process, workers that heard 429s at the same moment make one
// cut between them (observe hands out one judgement per watch, and cutTo
// drops one of answers to a rate changed since).
// A partner's published policy (RateLimit-Policy q/w) lowers it at once
// to that, and so does its remaining quota (X-RateLimit-Remaining r with
// X-RateLimit-Reset t, or RateLimit r and t) when r/t is under the rate in
// force: the fleet may send r more until the reset, so at most r/t a
// second (see remainingPace). The rate learned holds for RateRecovery
// after the last cut, then climbs linearly back to the ceiling over another RateRecovery, so
// a partner that raised its limit is found again; it is never above the
// ceiling nor under MinRate.
type rateLearner struct {
	ceiling  DestinationLimits
	recovery time.Duration
	conc     *concLearner // nil: MaxInFlight is the ceiling's

	mu          sync.Mutex
	learned     float64   // the rate set at the last cut
	cut         time.Time // when; zero: none, the ceiling is in force
	watchFrom   time.Time // answers from then on are judged
	ok, limited int       // answers since watchFrom
	judged      bool      // a judgement of them is out (see observe)
	written     float64   // the rate last written to the store
}

func newRateLearner(l DestinationLimits, recovery time.Duration) *rateLearner {
	return &rateLearner{ceiling: l, recovery: recovery, learned: l.Rate, written: l.Rate}
}

// rateAt is the rate in force at now: the learned one, recovering.
// Callers hold l.mu.
func (l *rateLearner) rateAt(now time.Time) float64 {
	if l.cut.IsZero() {
		return l.ceiling.Rate
	}
	since := now.Sub(l.cut) - l.recovery
	if since <= 0 {
		return l.learned
	}
	f := min(1, since.Seconds()/l.recovery.Seconds())
	return l.learned + (l.ceiling.Rate-l.learned)*f
}

// setRate cuts the rate to r at now. Callers hold l.mu.
func (l *rateLearner) setRate(r float64, now time.Time) float64 {
	r = min(l.ceiling.Rate, max(MinRate, r))
	l.restart(r, now)
	return r
}

// restart takes r as the rate cut at now, as written to the store, and
// watches the answers to it afresh. Callers hold l.mu.
func (l *rateLearner) restart(r float64, now time.Time) {
	l.learned, l.cut, l.watchFrom, l.ok, l.limited, l.judged, l.written = r, now, now, 0, 0, false, r
}

// judgement is the learner's verdict on the answers since the rate last
// changed: the share of them the partner accepted, and when they began
// (the watch they belong to).
type judgement struct {
	share float64
	watch time.Time
}

// observe takes one answer of the partner at now (its HTTP status, and
// what it said of its limit). It returns a new rate when what the partner
// said lowers it (cause causePolicy for a published policy,
// causeRemaining for a remaining quota), or, when the answers since the
// last change say the rate is too high, judge true and the judgement of
// them: the caller then reads the fleet's rate and calls cutTo. It hands
// out one judgement of the answers since a change, so workers that hear
// 429s at the same moment neither read the fleet's rate nor cut once
// each; the next change (cutTo's) watches afresh.
func (l *rateLearner) observe(now time.Time, status int, rl classify.RateLimit, hasRL bool) (rate float64, cause string, judge bool, j judgement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if hasRL {
		cur := l.rateAt(now)
		if r, ok := rl.Rate(); ok && r < cur*0.99 {
			return l.setRate(r, now), causePolicy, false, judgement{}
		}
		if pace, sure, ok := remainingPace(rl); ok && sure < cur*(1-rateRewrite) {
			return l.setRate(pace, now), causeRemaining, false, judgement{}
		}
	}
	if l.watchFrom.IsZero() {
		l.watchFrom = now
	}
	if status == http.StatusTooManyRequests {
		l.limited++
	} else {
		l.ok++
	}
	n := l.ok + l.limited
	if l.judged || status != http.StatusTooManyRequests || n < rateSamples || now.Sub(l.watchFrom) < rateSample {
		return 0, "", false, judgement{}
	}
	l.judged = true // one judgement per watch: workers hearing 429s at once make one cut
	return 0, "", true, judgement{share: min(0.9, float64(l.ok)/float64(n)), watch: l.watchFrom}
}

// remainingPace reads a partner's remaining quota: r requests
// (rl.Remaining) until its reset in t (rl.Reset) allow the fleet r/t a
// second until then, pace. A reset in whole seconds is as coarse as that
// (X-RateLimit-Reset: 1 may mean 0.01s, when r is what is left of a
// window just ending), so the rate is lowered only when even the least
// reset it may mean, t - 1s, gives a rate under the one in force: sure is
// r/(t - 1s), or r/t for a reset known to a finer resolution (a Unix time
// that does not fall on a whole second from now). ok is false when the
// answer says nothing of a pace: no remaining count, none left (see
// exhaustedFor), or no reset after now (or under a second away, in whole
// seconds).
func remainingPace(rl classify.RateLimit) (pace, sure float64, ok bool) {
	if !rl.HasRemaining || rl.Remaining <= 0 || rl.Reset <= 0 {
		return 0, 0, false
	}
	t := rl.Reset
	least := t
	if t%time.Second == 0 {
		least = t - resetResolution
	}
	if least <= 0 {
		return 0, 0, false
	}
	r := float64(rl.Remaining)
	return r / t.Seconds(), r / least.Seconds(), true
}

// exhaustedFor returns how long the partner said nothing more is allowed:
// the reset of a remaining quota of zero, capped by maxPause; ok is false
// when the answer does not say so (a reset of zero, or in the past, is no
// wait).
func exhaustedFor(rl classify.RateLimit, hasRL bool, maxPause time.Duration) (time.Duration, bool) {
	if !hasRL || !rl.HasRemaining || rl.Remaining != 0 || rl.Reset <= 0 {
		return 0, false
	}
	return min(rl.Reset, maxPause), true
}

// sentRate is the rate the fleet sent at over the span from watchFrom to
// now under a limit of rate: as much as GCRA grants when work is waiting,
// rate plus the burst it grants at once (a change of rate refills it).
// Callers hold l.mu.
func (l *rateLearner) sentRate(now time.Time, rate float64) float64 {
	span := now.Sub(l.watchFrom).Seconds()
	if span <= 0 {
		return rate
	}
	return rate + float64(max(1, l.ceiling.Burst)-1)/span
}

// cutTo cuts the rate at now on judgement j of the answers the partner
// gave to the fleet's rate in force (fleet, when known; else this
// process's view of it). When the fleet's rate is lower than this
// process's view, another process cut it since: the learner takes it as
// its own and watches again, changed false. When the rate changed since
// the answers j judged began (a worker that heard a 429 at the same time
// cut it first), they were answers to the old rate, already acted on:
// changed false (observe gives one judgement per watch; this catches a
// change made between it and cutTo, by adopt or a partner's policy).
func (l *rateLearner) cutTo(now time.Time, fleet float64, known bool, j judgement) (float64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.rateAt(now)
	if !l.watchFrom.Equal(j.watch) {
		return cur, false // judged answers to a rate already cut
	}
	if known && fleet > 0 && fleet < cur*0.99 {
		l.restart(fleet, now)
		return fleet, false // another process cut it since
	}
	// What the partner accepted a second, at most: the fleet sent at
	// most sentRate (less when it could not keep up with its limit).
	accepted := l.sentRate(now, cur) * j.share
	cut := rateFineCut
	switch {
	case accepted < cur*rateMinCut:
		cut = rateMinCut
	case accepted < cur*rateMidCut:
		cut = rateMidCut
	}
	return l.setRate(cur*cut, now), true
}

// adopt takes rate, learned by another process, as the rate cut at now.
func (l *rateLearner) adopt(now time.Time, rate float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.restart(rate, now)
}

// recovered returns the rate to write when the recovering rate moved far
// enough from the one last written.
func (l *rateLearner) recovered(now time.Time) (float64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut.IsZero() {
		return 0, false
	}
	r := l.rateAt(now)
	if r == l.written || (r < l.ceiling.Rate && r < l.written*(1+rateRewrite)) {
		return 0, false
	}
	l.written = r
	if r >= l.ceiling.Rate {
		l.cut = time.Time{} // back at the ceiling
	}
	return r, true
}

// limits are the destination's limits with rate r.
func (l *rateLearner) limits(r float64) DestinationLimits {
	out := l.ceiling
	out.Rate = r
	if l.conc != nil {
		out.MaxInFlight = l.conc.current()
	}
	return out
}

// learnRate lets the destination's learner take the attempt's answer, and
// writes a new rate to the store for the fleet. It reports whether the
// answer was a 429 the learner took (the record then waits, unattempted,
// instead of pausing the destination), and, when the partner said its
// quota is spent until a reset (a remaining count of 0), when the
// destination should be paused until: the reset, capped by MaxPause.
func (r *run) learnRate(p *pipeline, e *AttemptEvent, rl classify.RateLimit, hasRL bool, by time.Time) (limited bool, until time.Time) {
	if p.learner == nil || r.ctx.Err() != nil {
		return false, time.Time{}
	}
	status, name := e.Attempt.Status, e.Record.Destination
	now := time.Now()
	if wait, ok := exhaustedFor(rl, hasRL, r.d.cfg.MaxPause); ok {
		until = now.Add(wait)
	}
	rate, cause, judge, j := p.learner.observe(now, status, rl, hasRL)
	switch {
	case cause != "":
		// The partner said so: lower the fleet's rate to it, unless
		// another process lowered it further since.
		if fleet, known := r.fleetRate(name, by); known && fleet > 0 && fleet < rate*0.99 {
			p.learner.adopt(time.Now(), fleet)
			break
		}
		r.cutRate(name, p.learner, rate, cause, e.Err, by)
	case judge:
		fleet, known := r.fleetRate(name, by)
		if rate, changed := p.learner.cutTo(time.Now(), fleet, known, j); changed {
			r.cutRate(name, p.learner, rate, "http_429", e.Err, by)
		}
	}
	return status == http.StatusTooManyRequests, until
}

// fleetRate reads the destination's rate in force for the fleet, when the
// store can tell (LimitsReader).
func (r *run) fleetRate(name string, by time.Time) (float64, bool) {
	lr, ok := r.d.cfg.Store.(LimitsReader)
	if !ok {
		return 0, false
	}
	ctx, cancel := r.destinationCtx(by)
	defer cancel()
	l, err := lr.DestinationLimits(ctx, name)
	return l.Rate, err == nil
}

// cutRate lowers the fleet's rate to a learned rate and reports the
// change. With a RateLowerer it never raises the store's rate: when
// another process cut it lower meanwhile, the learner takes that rate as
// its own and reports nothing (that process did). Otherwise, or when the
// store has no limits for name yet, it writes them (writeRate).
func (r *run) cutRate(name string, l *rateLearner, rate float64, cause string, err error, by time.Time) {
	lw, ok := r.d.cfg.Store.(RateLowerer)
	if !ok {
		r.writeRate(name, l, rate, cause, err, by)
		return
	}
	ctx, cancel := r.destinationCtx(by)
	inForce, serr := lw.LowerDestinationRate(ctx, name, rate)
	cancel()
	switch {
	case serr == nil && inForce == 0:
		r.writeRate(name, l, rate, cause, err, by)
	case serr == nil && inForce < rate*0.99:
		l.adopt(time.Now(), inForce)
	default:
		if serr != nil {
			serr = fmt.Errorf("learned rate %.3g/s: %w", rate, serr)
		}
		r.observeDestination(DestinationEvent{Destination: name, Change: DestinationRateChange, Cause: cause, Err: err, StoreErr: serr, Rate: rate})
	}
}

// writeRate writes a learned rate to the store and reports the change.
func (r *run) writeRate(name string, l *rateLearner, rate float64, cause string, err error, by time.Time) {
	ctx, cancel := r.destinationCtx(by)
	defer cancel()
	serr := r.d.cfg.Store.SetDestinationLimits(ctx, name, l.limits(rate))
	if serr != nil {
		serr = fmt.Errorf("learned rate %.3g/s: %w", rate, serr)
	}
	r.observeDestination(DestinationEvent{Destination: name, Change: DestinationRateChange, Cause: cause, Err: err, StoreErr: serr, Rate: rate})
}

// recoverRates writes the rates that climbed back since the last run.
func (r *run) recoverRates() {
	ds := &r.d.dests
	ds.mu.Lock()
	learners := make(map[string]*rateLearner, len(ds.learners))
	for name, l := range ds.learners {
		learners[name] = l
	}
	ds.mu.Unlock()
	now := time.Now()
	for name, l := range learners {
		if rate, ok := l.recovered(now); ok {
			r.writeRate(name, l, rate, "recovery", nil, time.Time{})
		}
	}
}
