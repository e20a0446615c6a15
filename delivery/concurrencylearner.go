package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// Settings of the adaptive concurrency limit.
const (
	// concLatencyRise is how far over the lowest latency seen an answer
	// must take to say the partner is queueing.
	concLatencyRise = 1.5
	// concCut is the multiplicative decrease when an answer queued at the
	// partner, concOverloadCut when it refused or timed out.
	concCut         = 0.9
	concOverloadCut = 0.5
	// concBaseline is how long the lowest latency seen is kept before it
	// is measured again (a partner's normal latency drifts).
	concBaseline = time.Minute
)

// concLearner adapts a destination's MaxInFlight between 1 and the
// configured one (the ceiling) by AIMD on latency and overload, the way
// TCP Vegas and Netflix's concurrency-limits do: while answers succeed in
// about the lowest latency seen, the limit grows by one per limit's worth
// of answers (one per round trip; doubling per round trip at first, as
// slow start does); an answer that says the partner is overloaded (429,
// 503, a timeout) halves it, and one that took concLatencyRise times the
// lowest latency (it queued at the partner) takes 10% off, at most one cut
// per round trip. The limit is the store's MaxInFlight, so it bounds the leases of
// every process on the store: the fleet shares one limit (each process
// that learns writes it; the last writer wins, and all of them see the
// same partner).
type concLearner struct {
	ceiling int

	// writing orders this process's writes of the limit to the store (a
	// lock of one token, which a waiter can give up on): each is made
	// holding it, with the limit as it is then, so a write computed before
	// a cut cannot land after the cut's and undo it.
	writing chan struct{}

	mu        sync.Mutex
	limit     float64
	slowStart bool
	minRTT    time.Duration
	minAt     time.Time // when minRTT was measured
	lastCut   time.Time
	written   int
}

func newConcLearner(ceiling int) *concLearner {
	return &concLearner{ceiling: ceiling, limit: 1, slowStart: true, written: ceiling, writing: make(chan struct{}, 1)}
}

// lockWrite waits for this process's turn to write the limit (see
// writing), until by when it is not zero. It reports whether the turn
// came; call unlockWrite after the write.
func (c *concLearner) lockWrite(by time.Time) bool {
	if by.IsZero() {
		c.writing <- struct{}{}
		return true
	}
	select {
	case c.writing <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(time.Until(by))
	defer t.Stop()
	select {
	case c.writing <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}

// unlockWrite ends the turn lockWrite gave.
func (c *concLearner) unlockWrite() { <-c.writing }

// unwritten records that the limit may not be in the store (its write was
// given up or failed), so that the next answer writes it, changed or not.
func (c *concLearner) unwritten() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written = 0
}

// current is the limit to write.
func (c *concLearner) current() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(1, min(c.ceiling, int(c.limit)))
}

// adopt takes n, learned by another process, as the limit, past slow
// start.
func (c *concLearner) adopt(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit, c.slowStart, c.written = float64(n), false, n
}

// overloaded reports whether an outcome says the partner has too much to
// do: 429, 503, or a timeout.
func overloaded(err error) bool {
	switch classify.Status(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	if err == nil {
		return false
	}
	cause := classify.Cause(err)
	return cause == "timeout" || cause == "deadline" || errors.Is(err, context.DeadlineExceeded)
}

// observe takes one answer at now that took latency and returns the new
// limit when the whole number changed, with the cause of the change:
// "overload", "latency" or "growth".
func (c *concLearner) observe(now time.Time, latency time.Duration, err error) (n int, cause string, changed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.minRTT == 0 || latency < c.minRTT || now.Sub(c.minAt) > concBaseline {
		if !overloaded(err) && latency > 0 {
			c.minRTT, c.minAt = latency, now
		}
	}
	queued := c.minRTT > 0 && float64(latency) > concLatencyRise*float64(c.minRTT)
	if over := overloaded(err); over || queued {
		if now.Sub(c.lastCut) >= max(c.minRTT, time.Millisecond) {
			cut := concCut
			cause = "latency"
			if over {
				cut, cause = concOverloadCut, "overload"
			}
			c.limit = max(1, c.limit*cut)
			c.slowStart = false
			c.lastCut = now
		}
	} else if err == nil {
		cause = "growth"
		if c.slowStart {
			c.limit++
		} else {
			c.limit += 1 / c.limit
		}
		c.limit = min(c.limit, float64(c.ceiling))
	}
	n = max(1, min(c.ceiling, int(c.limit)))
	if n == c.written {
		return 0, "", false
	}
	c.written = n
	return n, cause, true
}

// learnConcurrency lets the destination's concurrency learner take the
// attempt's answer, and writes a new MaxInFlight to the store for the
// fleet (with the destination's rate in force), and reports the change
// (DestinationConcurrencyChange).
func (r *run) learnConcurrency(p *pipeline, e *AttemptEvent, by time.Time) {
	if p.conc == nil || r.ctx.Err() != nil {
		return
	}
	_, cause, changed := p.conc.observe(time.Now(), e.Attempt.Duration, e.Err)
	if !changed {
		return
	}
	// Concurrent answers change the limit concurrently; their writes go
	// one at a time, each with the limit as it is when it is made, so the
	// store ends with the latest (a growth computed just before an
	// overload cut must not be written after it). The wait for an earlier
	// write ends by by, which the record's outcome write needs; the write
	// then gets its own StoreTimeout. A write given up or failed leaves
	// the limit to be written by the next answer.
	if !p.conc.lockWrite(by) {
		p.conc.unwritten()
		n := p.conc.current()
		r.observeDestination(DestinationEvent{Destination: e.Record.Destination, Change: DestinationConcurrencyChange, Cause: cause,
			StoreErr: fmt.Errorf("concurrency limit %d: an earlier write of it still ran when the record's outcome had to be written", n),
			InFlight: n})
		return
	}
	defer p.conc.unlockWrite()
	ctx, cancel := r.destinationCtx(by)
	defer cancel()
	n := p.conc.current()
	l := DestinationLimits{MaxInFlight: n}
	if p.learner != nil {
		p.learner.mu.Lock()
		l.Rate, l.Burst = p.learner.rateAt(time.Now()), p.learner.ceiling.Burst
		p.learner.mu.Unlock()
		// Another process may have cut the rate since this one last
		// looked: write the fleet's rate, not this process's view of it,
		// which would raise it.
		if fleet, known := r.fleetRate(e.Record.Destination, by); known && fleet > 0 && fleet < l.Rate*0.99 {
			p.learner.adopt(time.Now(), fleet)
			l.Rate = fleet
		}
	}
	serr := r.d.cfg.Store.SetDestinationLimits(ctx, e.Record.Destination, l)
	if serr != nil {
		p.conc.unwritten()
		serr = fmt.Errorf("concurrency limit %d: %w", n, serr)
	}
	r.observeDestination(DestinationEvent{Destination: e.Record.Destination, Change: DestinationConcurrencyChange, Cause: cause, StoreErr: serr, InFlight: n})
}
