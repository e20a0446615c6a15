package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// Now is the clock the store reads for every time it writes or
	// compares. Nil means time.Now (which testing/synctest fakes).
	Now func() time.Time
	// History bounds the attempts each record keeps (Record.History); the
	// zero value means delivery's defaults.
	History delivery.History
}

// Store is an in-memory delivery.Store. It is safe for concurrent use. The
// zero value is not usable; call New.
type Store struct {
	now     func() time.Time
	history delivery.History
	notify  chan struct{}

	mu     sync.Mutex
	seq    int64
	byID   map[string]*rec
	byIdem map[idemKey]*rec
	keys   map[string][]*rec // live records per (destination, key), in Seq order
	dests  map[string]*dest  // by name: state, claim candidates, figures
	round  uint64            // claims handed out, for round robin
	leases leaseHeap
	order  []orderEntry // every record by Seq, with stale entries skipped
	stale  int          // stale entries in order
	counts [delivery.StateDiscarded + 1]int64
}

// rec is a stored record. gen changes on every state change so heap entries
// made before it are recognised as stale.
type rec struct {
	delivery.Record
	gen     uint64
	purged  bool
	expired bool // in flight, and its lease was seen expired
}

// orderKey is the per-key ordering scope of r: its destination and key.
func orderKey(r *rec) string { return r.Destination + "\x00" + r.Key }

type orderEntry struct {
	seq int64
	rec *rec
}

var (
	_ delivery.Store    = (*Store)(nil)
	_ delivery.Notifier = (*Store)(nil)
	_ delivery.NextDuer = (*Store)(nil)
)

// New returns an empty Store.
func New(cfg Config) *Store {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:     now,
		history: cfg.History.WithDefaults(),
		notify:  make(chan struct{}, 1),
		byID:    make(map[string]*rec),
		byIdem:  make(map[idemKey]*rec),
		keys:    make(map[string][]*rec),
		dests:   make(map[string]*dest),
	}
}

// Notify returns a channel that receives a value after Enqueue stores at
// least one new record or Redrive moves at least one. Settling records never
// signals it.
func (s *Store) Notify() <-chan struct{} { return s.notify }

// Enqueue implements delivery.Store.
func (s *Store) Enqueue(ctx context.Context, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prepared := make([]delivery.Message, len(msgs))
	for i := range msgs {
		m, err := delivery.PrepareMessage(ctx, msgs[i])
		if err != nil {
			return nil, fmt.Errorf("memstore: enqueue message %d: %w", i, err)
		}
		prepared[i] = m
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	// Resolve every message before storing any, so a conflict stores
	// nothing of the call.
	recs := make([]*rec, len(prepared))
	existing := make([]bool, len(prepared))
	batchID := make(map[string]*rec, len(prepared))
	batchIdem := make(map[idemKey]*rec, len(prepared))
	for i := range prepared {
		m := prepared[i]
		if r := s.existing(batchID, batchIdem, &m); r != nil {
			if err := delivery.CheckMatch(&m, &r.Message); err != nil {
				return nil, fmt.Errorf("memstore: enqueue message %d: %w", i, err)
			}
			recs[i], existing[i] = r, true
			continue
		}
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		r := &rec{Record: delivery.Record{
			Message: m, State: delivery.StatePending,
			NextAttemptAt: now, UpdatedAt: now,
		}}
		batchID[m.ID] = r
		if m.IdempotencyKey != "" {
			batchIdem[idemOf(&m)] = r
		}
		recs[i] = r
	}
	out := make([]delivery.Enqueued, len(prepared))
	created := 0
	for i, r := range recs {
		if !existing[i] {
			s.seq++
			r.Seq = s.seq
			s.insert(r)
			created++
		}
		out[i] = delivery.Enqueued{Record: r.snapshot(), Existing: existing[i]}
	}
	if created > 0 {
		s.signal()
	}
	return out, nil
}

// idemKey is what idempotency is scoped to: a receiver recognises resends
// of its own messages, so one key may stand for one record per
// destination.
type idemKey struct{ destination, key string }

func idemOf(m *delivery.Message) idemKey { return idemKey{m.Destination, m.IdempotencyKey} }

// signal wakes a waiting dispatcher without blocking.
func (s *Store) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// existing returns the stored record or earlier message of the call that m
// matches: by ID first, then by destination and idempotency key.
func (s *Store) existing(batchID map[string]*rec, batchIdem map[idemKey]*rec, m *delivery.Message) *rec {
	if r := s.byID[m.ID]; r != nil {
		return r
	}
	if r := batchID[m.ID]; r != nil {
		return r
	}
	if m.IdempotencyKey == "" {
		return nil
	}
	if r := s.byIdem[idemOf(m)]; r != nil {
		return r
	}
	return batchIdem[idemOf(m)]
}

// insert adds a new pending record to every index. Callers hold s.mu.
func (s *Store) insert(r *rec) {
	s.byID[r.ID] = r
	if r.IdempotencyKey != "" {
		s.byIdem[idemOf(&r.Message)] = r
	}
	s.order = append(s.order, orderEntry{seq: r.Seq, rec: r})
	s.counts[delivery.StatePending]++
	s.dest(r.Destination).count(delivery.StatePending, 1)
	s.enqueueLive(r)
}

// enqueueLive puts a pending record at the back of its key's queue and makes
// it a claim candidate if nothing of its key is ahead of it.
func (s *Store) enqueueLive(r *rec) {
	if r.Key == "" {
		s.makeReady(r)
		return
	}
	k := orderKey(r)
	q := s.keys[k]
	s.keys[k] = append(q, r)
	if len(q) == 0 {
		s.makeReady(r)
	}
}

// Claim implements delivery.Store.
func (s *Store) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("memstore: claim limit %d, lease %v: %w", limit, lease, delivery.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.expireLeases(now)
	out := s.claimRounds(limit, lease, now, skip)
	if out == nil {
		out = []delivery.Record{}
	}
	return out, nil
}

// expireLeases makes records whose lease expired candidates again, in due
// order, and stops counting them against their destination's MaxInFlight.
// Callers hold s.mu.
func (s *Store) expireLeases(now time.Time) {
	for len(s.leases) > 0 && !s.leases[0].expires.After(now) {
		e := s.leases.pop()
		if r := e.rec; e.gen == r.gen && r.State == delivery.StateInFlight && !r.expired {
			r.expired = true
			s.dests[r.Destination].leased--
			s.makeReady(r)
		}
	}
}

// makeReady makes r a claim candidate of its destination. Callers hold
// s.mu.
func (s *Store) makeReady(r *rec) { s.dest(r.Destination).ready.push(r) }

// unlease stops counting r, leaving the in-flight state, against its
// destination's MaxInFlight. Callers hold s.mu.
func (s *Store) unlease(r *rec) {
	if r.State == delivery.StateInFlight && !r.expired {
		s.dests[r.Destination].leased--
	}
	r.expired = false
}

func claimable(r *rec, now time.Time) bool {
	switch r.State {
	case delivery.StatePending:
		return true
	case delivery.StateInFlight:
		return !r.LeaseExpiresAt.After(now)
	}
	return false
}

// move changes a record's state, keeping counts and generation. Callers
// hold s.mu.
func (s *Store) move(r *rec, to delivery.State, now time.Time) {
	if r.State == delivery.StateInFlight && to != delivery.StateInFlight {
		s.unlease(r)
	}
	s.counts[r.State]--
	s.counts[to]++
	d := s.dest(r.Destination)
	d.count(r.State, -1)
	d.count(to, 1)
	r.State = to
	r.UpdatedAt = now
	r.gen++
}

// leased returns the record claimed under l, or ErrNotFound / ErrLeaseLost.
// Callers hold s.mu.
func (s *Store) leased(l delivery.Lease) (*rec, error) {
	r := s.byID[l.ID]
	if r == nil {
		return nil, fmt.Errorf("memstore: record %q: %w", l.ID, delivery.ErrNotFound)
	}
	if r.State != delivery.StateInFlight || r.LeaseToken != l.Token || l.Token == "" {
		return nil, fmt.Errorf("memstore: record %q: %w", l.ID, delivery.ErrLeaseLost)
	}
	return r, nil
}

// settle applies fn to the record claimed under l.
func (s *Store) settle(l delivery.Lease, fn func(r *rec, now time.Time)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.leased(l)
	if err != nil {
		return err
	}
	fn(r, s.now())
	return nil
}

// finish moves a claimed record to a terminal state, recording a, and lets
// the next record of its key through. Callers hold s.mu.
func (s *Store) finish(r *rec, to delivery.State, a delivery.Attempt, now time.Time) {
	s.move(r, to, now)
	r.Attempts++
	r.LastAttempt = a
	r.History = s.history.Append(r.History, a)
	r.LeaseToken = ""
	r.LeaseExpiresAt = time.Time{}
	if r.Key == "" {
		return
	}
	k := orderKey(r)
	q := s.keys[k]
	i := slices.Index(q, r)
	if i < 0 {
		return
	}
	q = slices.Delete(q, i, i+1)
	if len(q) == 0 {
		delete(s.keys, k)
		return
	}
	s.keys[k] = q
	if i == 0 && q[0].State == delivery.StatePending {
		s.makeReady(q[0])
	}
}

// toPending returns a claimed record to pending, due at next. Callers hold
// s.mu.
func (s *Store) toPending(r *rec, next, now time.Time) {
	s.move(r, delivery.StatePending, now)
	r.NextAttemptAt = next
	r.LeaseToken = ""
	r.LeaseExpiresAt = time.Time{}
	s.makeReady(r)
}

// Complete implements delivery.Store.
func (s *Store) Complete(_ context.Context, l delivery.Lease, a delivery.Attempt, duplicate bool) error {
	return s.settle(l, func(r *rec, now time.Time) {
		r.Duplicate = duplicate
		s.finish(r, delivery.StateDelivered, a, now)
	})
}

// DeadLetter implements delivery.Store.
func (s *Store) DeadLetter(_ context.Context, l delivery.Lease, a delivery.Attempt) error {
	return s.settle(l, func(r *rec, now time.Time) { s.finish(r, delivery.StateDead, a, now) })
}

// Discard implements delivery.Store.
func (s *Store) Discard(_ context.Context, l delivery.Lease, a delivery.Attempt) error {
	return s.settle(l, func(r *rec, now time.Time) { s.finish(r, delivery.StateDiscarded, a, now) })
}

// Reschedule implements delivery.Store.
func (s *Store) Reschedule(_ context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	return s.settle(l, func(r *rec, now time.Time) {
		if a != nil {
			r.Attempts++
			r.LastAttempt = *a
			r.History = s.history.Append(r.History, *a)
		} else {
			r.Deferrals++
		}
		s.toPending(r, next, now)
	})
}

// Release implements delivery.Store.
func (s *Store) Release(_ context.Context, l delivery.Lease) error {
	return s.settle(l, func(r *rec, now time.Time) { s.toPending(r, now, now) })
}

// Redrive implements delivery.Store.
func (s *Store) Redrive(_ context.Context, ids ...string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := make([]*rec, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		r := s.byID[id]
		if r == nil {
			return 0, fmt.Errorf("memstore: redrive %q: %w", id, delivery.ErrNotFound)
		}
		if r.State != delivery.StateDead {
			return 0, fmt.Errorf("memstore: redrive %q: record is %s, not dead: %w", id, r.State, delivery.ErrInvalid)
		}
		if !seen[id] {
			seen[id] = true
			recs = append(recs, r)
		}
	}
	s.redrive(recs)
	return len(recs), nil
}

// RedriveMatching implements delivery.Store.
func (s *Store) RedriveMatching(_ context.Context, f delivery.Filter) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var recs []*rec
	for _, e := range s.order {
		r := e.rec
		if e.seq == r.Seq && !r.purged && r.State == delivery.StateDead && matches(r, f) {
			recs = append(recs, r)
		}
	}
	s.redrive(recs)
	return len(recs), nil
}

func matches(r *rec, f delivery.Filter) bool {
	return (f.Key == "" || r.Key == f.Key) &&
		(f.Destination == "" || r.Destination == f.Destination) &&
		(len(f.Classes) == 0 || slices.Contains(f.Classes, r.LastAttempt.Class)) &&
		(f.UpdatedBefore.IsZero() || r.UpdatedAt.Before(f.UpdatedBefore))
}

// redrive moves dead records back to pending at the back of their queues.
// Callers hold s.mu.
func (s *Store) redrive(recs []*rec) {
	now := s.now()
	for _, r := range recs {
		s.move(r, delivery.StatePending, now)
		r.Attempts = 0
		r.NextAttemptAt = now
		r.RedrivenAt = now
		s.seq++
		r.Seq = s.seq
		s.order = append(s.order, orderEntry{seq: r.Seq, rec: r})
		s.stale++
		s.enqueueLive(r)
	}
	s.compact()
	if len(recs) > 0 {
		s.signal()
	}
}

// NextDue implements delivery.NextDuer from the top of each destination's
// claim heap and of the lease heap, dropping stale entries on the way:
// O(destinations + log n) amortised.
func (s *Store) NextDue(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for len(s.leases) > 0 {
		e := s.leases[0]
		if e.gen == e.rec.gen && e.rec.State == delivery.StateInFlight && !e.rec.expired {
			break
		}
		s.leases.pop()
	}
	var due time.Time
	for _, d := range s.dests {
		if t, ok := d.nextDue(now); ok && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	if len(s.leases) > 0 && (due.IsZero() || s.leases[0].expires.Before(due)) {
		due = s.leases[0].expires
	}
	return due, !due.IsZero(), nil
}

// Get implements delivery.Store.
func (s *Store) Get(_ context.Context, id string) (delivery.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.byID[id]
	if r == nil {
		return delivery.Record{}, fmt.Errorf("memstore: record %q: %w", id, delivery.ErrNotFound)
	}
	return r.snapshot(), nil
}

// List implements delivery.Store.
func (s *Store) List(_ context.Context, opts delivery.ListOptions) (delivery.Page, error) {
	limit, err := opts.PageSize()
	if err != nil {
		return delivery.Page{}, fmt.Errorf("memstore: %w", err)
	}
	var after int64
	if opts.After != "" {
		n, err := strconv.ParseInt(opts.After, 10, 64)
		if err != nil || n < 0 {
			return delivery.Page{}, fmt.Errorf("memstore: list cursor %q: %w", opts.After, delivery.ErrInvalid)
		}
		after = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start, _ := slices.BinarySearchFunc(s.order, after+1, func(e orderEntry, seq int64) int { return cmp.Compare(e.seq, seq) })
	var page delivery.Page
	for _, e := range s.order[start:] {
		r := e.rec
		if e.seq != r.Seq || r.purged {
			continue
		}
		if !opts.Matches(&r.Record) {
			continue
		}
		if len(page.Records) == limit {
			page.Next = strconv.FormatInt(page.Records[limit-1].Seq, 10)
			break
		}
		page.Records = append(page.Records, r.snapshot())
	}
	return page, nil
}

// Stats implements delivery.Store.
func (s *Store) Stats(context.Context) (delivery.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	st := delivery.Stats{Counts: s.counts}
	for _, r := range s.byID {
		switch r.State {
		case delivery.StatePending:
			if !r.NextAttemptAt.After(now) {
				st.OldestDue = max(st.OldestDue, now.Sub(r.NextAttemptAt))
			}
			fallthrough
		case delivery.StateInFlight:
			st.OldestPending = max(st.OldestPending, now.Sub(r.CreatedAt))
		}
	}
	return st, nil
}

// Purge implements delivery.Store.
func (s *Store) Purge(_ context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("memstore: purge limit %d: %w", limit, delivery.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var victims []*rec
	for _, r := range s.byID {
		if (r.State == delivery.StateDelivered || r.State == delivery.StateDiscarded) && r.UpdatedAt.Before(before) {
			victims = append(victims, r)
		}
	}
	slices.SortFunc(victims, func(a, b *rec) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.Seq, b.Seq))
	})
	victims = victims[:min(limit, len(victims))]
	for _, r := range victims {
		delete(s.byID, r.ID)
		if r.IdempotencyKey != "" && s.byIdem[idemOf(&r.Message)] == r {
			delete(s.byIdem, idemOf(&r.Message))
		}
		s.counts[r.State]--
		r.purged = true
		s.stale++
	}
	s.compact()
	return len(victims), nil
}

// compact drops stale entries from s.order once they are the majority.
// Callers hold s.mu.
func (s *Store) compact() {
	if s.stale < 1024 || s.stale < len(s.order)/2 {
		return
	}
	live := s.order[:0]
	for _, e := range s.order {
		if e.seq == e.rec.Seq && !e.rec.purged {
			live = append(live, e)
		}
	}
	clear(s.order[len(live):])
	s.order = live
	s.stale = 0
}

// snapshot returns a copy of the record safe to hand out: Headers is
// copied, Payload is shared and must be treated as read-only.
func (r *rec) snapshot() delivery.Record {
	out := r.Record
	if len(out.Headers) > 0 {
		out.Headers = maps.Clone(out.Headers)
	}
	out.History = slices.Clone(out.History)
	return out
}
