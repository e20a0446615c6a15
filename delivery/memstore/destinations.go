package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// dest is one destination: its durable state, its claim candidates and
// its live figures. A dest exists once it has had a record or some state;
// it is never deleted, so round-robin positions survive idle spells.
type dest struct {
	name string

	pausedUntil time.Time
	pausedSince time.Time
	pauses      int
	disabled    bool
	cause       string
	reason      string
	maxInFlight int
	rate        float64   // fleet-wide rate limit (GCRA); 0 is none
	burst       int       //
	tat         time.Time // GCRA theoretical arrival time
	changedAt   time.Time
	stateful    bool // has been paused, disabled or limited at least once

	ready   readyHeap // claim candidates of this destination
	leased  int       // records in flight whose lease was not seen expired
	served  uint64    // claim round in which it last gave a record
	pending int64
	flight  int64
	dead    int64
}

// dest returns the destination named name, creating it. Callers hold s.mu.
func (s *Store) dest(name string) *dest {
	d := s.dests[name]
	if d == nil {
		d = &dest{name: name}
		s.dests[name] = d
	}
	return d
}

// count adds n to d's figure for records in state st.
func (d *dest) count(st delivery.State, n int64) {
	switch st {
	case delivery.StatePending:
		d.pending += n
	case delivery.StateInFlight:
		d.flight += n
	case delivery.StateDead:
		d.dead += n
	}
}

// nextDue is when d next has a claimable record by time alone (its head's
// due time, or the end of its pause if later); ok is false when it has no
// candidate, is disabled, or is at its MaxInFlight (a lease ending or a
// settle frees it).
func (d *dest) nextDue(now time.Time) (time.Time, bool) {
	e, ok := d.head()
	if !ok || d.disabled {
		return time.Time{}, false
	}
	due := e.due
	if d.pausedUntil.After(now) {
		return maxTime(due, d.pausedUntil), true
	}
	if d.leaseRoom(now) == 0 {
		return time.Time{}, false
	}
	if d.room(now) == 0 { // no token: the next one is due at
		return maxTime(due, delivery.GCRANext(d.tat, d.rate, d.burst)), true
	}
	return due, true
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// status is d's status at now.
func (d *dest) status(now time.Time) delivery.DestinationStatus {
	return delivery.DestinationStatusAt(d.disabled, d.pausedUntil, now)
}

// leaseRoom is how many more records of d Claim may lease at now by its
// status and MaxInFlight.
func (d *dest) leaseRoom(now time.Time) int {
	return delivery.ClaimRoom(d.status(now), d.maxInFlight, d.leased)
}

// room is how many more records of d Claim may lease at now: its lease
// room, within the tokens its rate limit has.
func (d *dest) room(now time.Time) int {
	n, _ := delivery.GCRA(d.tat, now, d.rate, d.burst, d.leaseRoom(now))
	return n
}

// head returns d's earliest valid claim candidate, dropping stale entries.
func (d *dest) head() (readyEntry, bool) {
	for len(d.ready) > 0 {
		e := d.ready[0]
		if e.gen == e.rec.gen && (e.rec.State == delivery.StatePending || e.rec.State == delivery.StateInFlight) {
			return e, true
		}
		d.ready.pop()
	}
	return readyEntry{}, false
}

// claimFrom leases d's next due record, if any, at now. Callers hold s.mu.
func (s *Store) claimFrom(d *dest, now time.Time, lease time.Duration, token string) (delivery.Record, bool) {
	probing := d.status(now) == delivery.DestinationProbing
	for len(d.ready) > 0 && !d.ready[0].due.After(now) {
		e := d.ready.pop()
		r := e.rec
		if e.gen != r.gen || !claimable(r, now) {
			continue
		}
		s.move(r, delivery.StateInFlight, now)
		r.expired = false
		d.leased++
		_, d.tat = delivery.GCRA(d.tat, now, d.rate, d.burst, 1)
		r.LeaseToken = token
		r.LeaseExpiresAt = now.Add(lease)
		s.leases.push(leaseEntry{expires: r.LeaseExpiresAt, rec: r, gen: r.gen})
		out := r.snapshot()
		out.Probe = probing
		return out, true
	}
	return delivery.Record{}, false
}

// claimRounds leases up to limit records, one per destination per round,
// least recently served destinations first, none of the destinations in
// skip. Callers hold s.mu.
func (s *Store) claimRounds(limit int, lease time.Duration, now time.Time, skip []string) []delivery.Record {
	var cands []*dest
	for _, d := range s.dests {
		if e, ok := d.head(); ok && !e.due.After(now) && d.room(now) > 0 && !slices.Contains(skip, d.name) {
			cands = append(cands, d)
		}
	}
	slices.SortFunc(cands, func(a, b *dest) int { return cmp.Or(cmp.Compare(a.served, b.served), cmp.Compare(a.name, b.name)) })
	token := delivery.NewToken()
	var out []delivery.Record
	for len(out) < limit && len(cands) > 0 {
		next := cands[:0]
		for _, d := range cands {
			if len(out) == limit {
				break
			}
			if d.room(now) == 0 {
				continue
			}
			rec, ok := s.claimFrom(d, now, lease, token)
			if !ok {
				continue
			}
			s.round++
			d.served = s.round
			out = append(out, rec)
			next = append(next, d)
		}
		cands = next
	}
	return out
}

// PauseDestination implements delivery.Store.
func (s *Store) PauseDestination(_ context.Context, name string, p delivery.Pause) (delivery.Destination, error) {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return delivery.Destination{}, fmt.Errorf("memstore: pause: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if err := delivery.ValidatePause(p, now); err != nil {
		return delivery.Destination{}, fmt.Errorf("memstore: pause %q: %w", name, err)
	}
	d := s.dest(name)
	d.stateful = true
	if d.status(now) != delivery.DestinationPaused {
		d.pauses++ // a new pause, not one more failure during this one
	}
	until := p.Until
	if p.Length != nil {
		until = maxTime(until, now.Add(p.Length(d.pauses)))
	}
	if until.After(d.pausedUntil) {
		d.pausedUntil = until
		if !d.disabled {
			d.cause, d.reason = p.Cause, delivery.RedactedText(p.Reason)
		}
	}
	if d.pausedSince.IsZero() {
		d.pausedSince = now
	}
	d.changedAt = now
	return d.state(now), nil
}

// state is d without its figures.
func (d *dest) state(now time.Time) delivery.Destination {
	return delivery.Destination{
		Name: d.name, Status: d.status(now), PausedUntil: d.pausedUntil, PausedSince: d.pausedSince,
		Pauses: d.pauses, Cause: d.cause, Reason: d.reason, MaxInFlight: d.maxInFlight, ChangedAt: d.changedAt,
		Rate: d.rate, Burst: d.burst,
	}
}

// ResumeAfterProbe implements delivery.Store.
func (s *Store) ResumeAfterProbe(_ context.Context, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[name]
	now := s.now()
	if d == nil || d.status(now) != delivery.DestinationProbing {
		return false, nil
	}
	d.activate(now)
	s.signal() // its held-back records are claimable at once
	return true, nil
}

// ResumeDestination implements delivery.Store.
func (s *Store) ResumeDestination(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[name]
	if d == nil {
		return fmt.Errorf("memstore: resume destination %q: %w", name, delivery.ErrNotFound)
	}
	d.activate(s.now())
	s.signal()
	return nil
}

func (d *dest) activate(now time.Time) {
	d.pausedUntil, d.pausedSince, d.pauses = time.Time{}, time.Time{}, 0
	d.disabled, d.cause, d.reason = false, "", ""
	d.changedAt = now
}

// DisableDestination implements delivery.Store.
func (s *Store) DisableDestination(_ context.Context, name, cause, reason string) error {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return fmt.Errorf("memstore: disable: %w", err)
	}
	if cause == "" {
		return fmt.Errorf("memstore: disable %q: a cause is required: %w", name, delivery.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest(name)
	d.stateful = true
	d.disabled, d.cause, d.reason = true, cause, delivery.RedactedText(reason)
	d.changedAt = s.now()
	return nil
}

// SetDestinationLimits implements delivery.Store.
func (s *Store) SetDestinationLimits(_ context.Context, name string, l delivery.DestinationLimits) error {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return fmt.Errorf("memstore: limits: %w", err)
	}
	if err := delivery.ValidateDestinationLimits(l); err != nil {
		return fmt.Errorf("memstore: limits of %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest(name)
	if d.maxInFlight != l.MaxInFlight || d.rate != l.Rate || d.burst != l.Burst {
		d.maxInFlight, d.rate, d.burst = l.MaxInFlight, l.Rate, l.Burst
		d.changedAt = s.now()
		s.signal() // a higher limit may make records claimable at once
	}
	d.stateful = true
	return nil
}

// LowerDestinationRate implements delivery.RateLowerer: the stored rate
// becomes rate unless it is lower already. It returns the rate in force
// after, 0 (and stores nothing) for a destination without stored limits,
// or an error wrapping delivery.ErrInvalid for a bad name or rate.
func (s *Store) LowerDestinationRate(_ context.Context, name string, rate float64) (float64, error) {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return 0, fmt.Errorf("memstore: lower rate: %w", err)
	}
	if err := delivery.ValidateDestinationLimits(delivery.DestinationLimits{Rate: rate}); err != nil || rate == 0 {
		return 0, fmt.Errorf("memstore: lower rate of %q to %v: %w", name, rate, delivery.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[name]
	if d == nil || !d.stateful {
		return 0, nil
	}
	if d.rate == 0 || d.rate > rate {
		d.rate = rate
		d.changedAt = s.now()
	}
	return d.rate, nil
}

// Destinations implements delivery.Store.
func (s *Store) Destinations(context.Context) ([]delivery.Destination, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	oldest := make(map[string]time.Time)
	for _, r := range s.byID {
		if r.State == delivery.StatePending || r.State == delivery.StateInFlight {
			if t, ok := oldest[r.Destination]; !ok || r.CreatedAt.Before(t) {
				oldest[r.Destination] = r.CreatedAt
			}
		}
	}
	var out []delivery.Destination
	for _, d := range s.dests {
		if !d.stateful && d.pending+d.flight+d.dead == 0 {
			continue
		}
		dd := d.state(now)
		dd.Pending, dd.InFlight, dd.Dead = d.pending, d.flight, d.dead
		if t, ok := oldest[d.name]; ok {
			dd.OldestPending = now.Sub(t)
		}
		out = append(out, dd)
	}
	slices.SortFunc(out, func(a, b delivery.Destination) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// DestinationLimits implements delivery.LimitsReader.
func (s *Store) DestinationLimits(_ context.Context, name string) (delivery.DestinationLimits, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[name]
	if d == nil {
		return delivery.DestinationLimits{}, nil
	}
	return delivery.DestinationLimits{MaxInFlight: d.maxInFlight, Rate: d.rate, Burst: d.burst}, nil
}
