package delivery

import (
	"math"
	"slices"
	"time"
)

// share is how many of a Dispatcher's claimed records one destination may
// hold (in workers or queued for them) while others have due work: its
// Concurrency workers split evenly over the destinations seen with due
// work (in hand, or in the last claim), at least one; alone, a destination
// is bounded only by each run's slots (Concurrency and the records claimed
// ahead, see readAhead). A slow partner then holds its share of workers,
// not all of them. Callers hold ds.mu.
func (d *Dispatcher) share() int {
	if d.dests.active <= 1 {
		return math.MaxInt // alone, it is bounded by each run's slots only
	}
	return max(1, (d.cfg.Concurrency+d.dests.active-1)/d.dests.active)
}

// overShare lists the destinations the next claim skips: those that hold
// their share of this Dispatcher's claimed records, those over their rate
// limit, and those this process holds back itself because the store did
// not take their pause (a local hold, or its probe out).
// The first shared of them hold their share; the others wait: for a token
// to spend (RateLimit), or for the end of the hold or of its probe.
func (d *Dispatcher) overShare() (skip []string, shared int) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	share := d.share()
	for name, n := range ds.inHand {
		if n >= share {
			skip = append(skip, name)
		}
	}
	shared = len(skip)
	now := time.Now()
	for name, lim := range ds.limited {
		// One token for each record already in hand, and one more.
		if lim.TokensAt(now) < float64(ds.inHand[name]+1) && !slices.Contains(skip, name) {
			skip = append(skip, name)
		}
	}
	return ds.localSkips(skip, now), shared
}

// nextOpening is when the first of the destinations that wait for a time
// opens again: a rate-limited one has a token, or a local hold ends; zero
// when none waits. A dispatcher whose claims skipped only those looks
// again then.
func (d *Dispatcher) nextOpening() time.Time {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	var next time.Time
	earliest := func(at time.Time) {
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	now := time.Now()
	for _, lim := range ds.limited {
		tokens := lim.TokensAt(now)
		if tokens >= 1 || lim.Limit() <= 0 {
			continue
		}
		earliest(now.Add(time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))))
	}
	for _, lh := range ds.local {
		if now.Before(lh.until) {
			earliest(lh.until)
		}
	}
	return next
}

// took counts the records of a claim that skipped the destinations in
// shared because they held their share: with those of the claim, they are
// the destinations seen with due work. (A rate-limited destination does
// not count: its records take a worker only when it has a token.)
func (d *Dispatcher) took(recs []Record, shared []string) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.inHand == nil {
		ds.inHand = make(map[string]int)
	}
	seen := make(map[string]bool, len(recs)+len(shared))
	for _, name := range shared {
		seen[name] = true
	}
	ds.out += len(recs)
	for _, r := range recs {
		ds.inHand[r.Destination]++
		if ds.limited[r.Destination] == nil {
			seen[r.Destination] = true
		}
	}
	if len(recs) > 0 || len(shared) > 0 {
		held := 0 // destinations in hand that hold workers
		for name := range ds.inHand {
			if ds.limited[name] == nil {
				held++
			}
		}
		ds.active = max(len(seen), held)
	}
}

// settled stops counting a claimed record of name; unblocked is set when
// the record's settle let the next record of its key through.
func (d *Dispatcher) settled(name string, unblocked bool) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if unblocked || ds.inHand[name] == d.share() {
		// It held its share, so a claim may have skipped it: its due
		// records are claimable again. Or the next record of its key is.
		select {
		case d.opened <- struct{}{}:
		default:
		}
	}
	if ds.inHand[name]--; ds.inHand[name] <= 0 {
		delete(ds.inHand, name)
	}
	if ds.out--; ds.out == d.cfg.Concurrency-1 { // a worker just came free
		select {
		case d.freed <- struct{}{}:
		default:
		}
	}
}

// insertsOrFreed returns what a wait for more records listens to: the
// store's insert signal notify while a worker is free, else (every worker
// of the Dispatcher has a record, in any run) d.freed instead, so that
// the insert, which wakes one listener, goes to an idle peer: a record
// claimed now would only wait behind slow attempts. The caller listens
// again to both when freed fires.
func (d *Dispatcher) insertsOrFreed(notify <-chan struct{}) (inserts, freed <-chan struct{}) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.out >= d.cfg.Concurrency {
		return nil, d.freed
	}
	return notify, nil
}
