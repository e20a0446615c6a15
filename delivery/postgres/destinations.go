package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/delivery"
)

// Destinations live in their own table (see the package doc, Schema):
// one row per destination that has had a record or some state. Pauses,
// disables and limits are single statements on that row; none of them
// touches the records, and the claim reads them on its next run.

// destColumns lists the columns scanDestination reads, in its order.
const destColumns = `d.name, d.paused_until, d.paused_since, d.pauses, d.disabled, d.cause, d.reason, d.max_in_flight, d.changed_at, d.rate, d.burst`

// scanDestination reads one row of destColumns, then extra, then the
// statement's now (the store's clock), and sets the status as of now,
// which it returns too.
func scanDestination(row pgx.Row, extra ...any) (delivery.Destination, time.Time, error) {
	var (
		d                     delivery.Destination
		until, since, changed *time.Time
		pauses, maxInFlight   int32
		burst                 int32
		disabled              bool
		now                   time.Time
	)
	dest := append([]any{&d.Name, &until, &since, &pauses, &disabled, &d.Cause, &d.Reason, &maxInFlight, &changed, &d.Rate, &burst}, extra...)
	dest = append(dest, &now)
	if err := row.Scan(dest...); err != nil {
		return delivery.Destination{}, time.Time{}, err
	}
	if until != nil {
		d.PausedUntil = *until
	}
	if since != nil {
		d.PausedSince = *since
	}
	if changed != nil {
		d.ChangedAt = *changed
	}
	d.Pauses, d.MaxInFlight, d.Burst = int(pauses), int(maxInFlight), int(burst)
	switch {
	case disabled:
		d.Status = delivery.DestinationDisabled
	case until == nil:
		d.Status = delivery.DestinationActive
	case until.After(now):
		d.Status = delivery.DestinationPaused
	default:
		d.Status = delivery.DestinationProbing
	}
	return d, now, nil
}

// PauseDestination implements delivery.Store, in one transaction: it
// counts the pause (creating the destination's row if needed), then sets
// the end: the later of p.Until and now + p.Length(pauses), unless the
// recorded end is later still.
func (s *Store) PauseDestination(ctx context.Context, name string, p delivery.Pause) (delivery.Destination, error) {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return delivery.Destination{}, fmt.Errorf("postgres: pause: %w", err)
	}
	st := s.stamp()
	if err := delivery.ValidatePause(p, st.caller); err != nil {
		return delivery.Destination{}, fmt.Errorf("postgres: pause %q: %w", name, err)
	}
	if !storable(p.Cause) {
		return delivery.Destination{}, fmt.Errorf("postgres: pause %q: cause is not valid text: %w", name, delivery.ErrInvalid)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return delivery.Destination{}, fmt.Errorf("postgres: pause %q: begin: %w", name, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var pauses int32
	if err := tx.QueryRow(ctx, s.q.pause, name, st.now).Scan(&pauses); err != nil {
		return delivery.Destination{}, fmt.Errorf("postgres: pause %q: %w", name, err)
	}
	length := st.offset(p.Until)
	if p.Length != nil {
		if l := p.Length(int(pauses)).Truncate(time.Microsecond); l > length {
			length = l
		}
	}
	d, _, err := scanDestination(tx.QueryRow(ctx, s.q.pauseSet, name, st.now, length, p.Cause,
		storableText(delivery.RedactedText(p.Reason), delivery.MaxErrorText)))
	if err != nil {
		return delivery.Destination{}, fmt.Errorf("postgres: pause %q: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return delivery.Destination{}, fmt.Errorf("postgres: pause %q: commit: %w", name, err)
	}
	return d, nil
}

// ResumeAfterProbe implements delivery.Store. When it resumes the
// destination it wakes listening dispatchers: its held-back records are
// claimable at once.
func (s *Store) ResumeAfterProbe(ctx context.Context, name string) (bool, error) {
	if !storable(name) {
		return false, nil
	}
	var n int64
	if err := s.pool.QueryRow(ctx, s.q.resumeAfterProbe, name, s.stamp().now, s.n.Channel).Scan(&n); err != nil {
		return false, fmt.Errorf("postgres: resume %q after probe: %w", name, err)
	}
	return n > 0, nil
}

// ResumeDestination implements delivery.Store, and wakes listening
// dispatchers.
func (s *Store) ResumeDestination(ctx context.Context, name string) error {
	if !storable(name) {
		return fmt.Errorf("postgres: resume destination %q: %w", name, delivery.ErrNotFound)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, s.q.resume, name, s.stamp().now, s.n.Channel).Scan(&n); err != nil {
		return fmt.Errorf("postgres: resume destination %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: resume destination %q: %w", name, delivery.ErrNotFound)
	}
	return nil
}

// DisableDestination implements delivery.Store.
func (s *Store) DisableDestination(ctx context.Context, name, cause, reason string) error {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return fmt.Errorf("postgres: disable: %w", err)
	}
	if cause == "" || len(cause) > 64 || !storable(cause) {
		return fmt.Errorf("postgres: disable %q: a cause of 1 to 64 bytes of text is required: %w", name, delivery.ErrInvalid)
	}
	if _, err := s.pool.Exec(ctx, s.q.disable, name, s.stamp().now, cause,
		storableText(delivery.RedactedText(reason), delivery.MaxErrorText)); err != nil {
		return fmt.Errorf("postgres: disable %q: %w", name, err)
	}
	return nil
}

// SetDestinationLimits implements delivery.Store.
func (s *Store) SetDestinationLimits(ctx context.Context, name string, l delivery.DestinationLimits) error {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return fmt.Errorf("postgres: limits: %w", err)
	}
	if l.MaxInFlight > 1<<31-1 {
		return fmt.Errorf("postgres: limits of %q: MaxInFlight %d: %w", name, l.MaxInFlight, delivery.ErrInvalid)
	}
	if err := delivery.ValidateDestinationLimits(l); err != nil {
		return fmt.Errorf("postgres: limits of %q: %w", name, err)
	}
	if _, err := s.pool.Exec(ctx, s.q.setLimits, name, s.stamp().now, int32(l.MaxInFlight), l.Rate, int32(l.Burst)); err != nil {
		return fmt.Errorf("postgres: limits of %q: %w", name, err)
	}
	return nil
}

// LowerDestinationRate implements delivery.RateLowerer in one statement:
// the stored rate becomes rate unless it is lower already. It returns the
// rate in force after, 0 (and stores nothing) for a destination without
// stored limits, or an error wrapping delivery.ErrInvalid for a bad name
// or rate, or the database's error.
func (s *Store) LowerDestinationRate(ctx context.Context, name string, rate float64) (float64, error) {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return 0, fmt.Errorf("postgres: lower rate: %w", err)
	}
	if err := delivery.ValidateDestinationLimits(delivery.DestinationLimits{Rate: rate}); err != nil || rate == 0 {
		return 0, fmt.Errorf("postgres: lower rate of %q to %v: %w", name, rate, delivery.ErrInvalid)
	}
	var inForce float64
	err := s.pool.QueryRow(ctx, s.q.lowerRate, name, s.stamp().now, rate).Scan(&inForce)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("postgres: lower rate of %q: %w", name, err)
	}
	return inForce, nil
}

// Destinations implements delivery.Store: one statement that counts the
// live and dead records per destination (a pass over those records, not
// over the delivered history) and joins the destinations' stored state.
func (s *Store) Destinations(ctx context.Context) ([]delivery.Destination, error) {
	rows, err := s.pool.Query(ctx, s.q.destinations, s.stamp().now)
	if err != nil {
		return nil, fmt.Errorf("postgres: destinations: %w", err)
	}
	defer rows.Close()
	out := []delivery.Destination{}
	var d0 delivery.Destination // figures, scanned
	for rows.Next() {
		var oldest *time.Time
		d, now, err := scanDestination(rows, &d0.Pending, &d0.InFlight, &d0.Dead, &oldest)
		if err != nil {
			return nil, fmt.Errorf("postgres: destinations: %w", err)
		}
		d.Pending, d.InFlight, d.Dead = d0.Pending, d0.InFlight, d0.Dead
		if oldest != nil {
			d.OldestPending = max(0, now.Sub(*oldest))
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// knownDestinations remembers, up to maxKnownDestinations of them, the
// destinations whose row in the destinations table this store saw
// committed (its own Enqueue committed, or a claim returned a record of
// it). Rows are never deleted, so Enqueue asks the database to create only
// the rows of destinations it does not know: the common enqueue writes and
// waits for nothing in that table. A caller's transaction (EnqueueTx) may
// roll back, so what it inserts is not remembered.
type knownDestinations struct {
	mu    sync.RWMutex
	names map[string]struct{}
}

// maxKnownDestinations bounds the memory knownDestinations holds; beyond
// it, enqueues for the others pay an index probe each.
const maxKnownDestinations = 10_000

// unknown returns the distinct names in names that k does not know.
func (k *knownDestinations) unknown(names []string) []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []string
	for _, n := range names {
		if _, ok := k.names[n]; !ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// add remembers name.
func (k *knownDestinations) add(name string) {
	k.mu.RLock()
	_, ok := k.names[name]
	k.mu.RUnlock()
	if ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.names == nil {
		k.names = make(map[string]struct{})
	}
	if len(k.names) < maxKnownDestinations {
		k.names[name] = struct{}{}
	}
}

// DestinationLimits implements delivery.LimitsReader: one row of the
// destinations table.
func (s *Store) DestinationLimits(ctx context.Context, name string) (delivery.DestinationLimits, error) {
	var (
		maxInFlight, burst int32
		rate               float64
	)
	err := s.pool.QueryRow(ctx, s.q.limits, name).Scan(&maxInFlight, &rate, &burst)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return delivery.DestinationLimits{}, nil
	case err != nil:
		return delivery.DestinationLimits{}, fmt.Errorf("postgres: limits of %q: %w", name, err)
	}
	return delivery.DestinationLimits{MaxInFlight: int(maxInFlight), Rate: rate, Burst: int(burst)}, nil
}
