package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// dest is a destinations row: a destination's durable state.
type dest struct {
	name        string
	pausedUntil time.Time
	pausedSince time.Time
	pauses      int
	disabled    bool
	cause       string
	reason      string
	maxInFlight int
	changedAt   time.Time
	stateful    bool
	served      int64
	rate        float64   // fleet-wide rate limit (GCRA); 0 is none
	burst       int       //
	tat         time.Time // GCRA theoretical arrival time
}

const destColumns = `name, paused_until, paused_since, pauses, disabled, cause, reason, max_in_flight, changed_at, stateful, served, rate, burst, rate_tat`

func scanDest(sc scanner) (*dest, error) {
	var (
		d                     dest
		until, since, changed int64
		tat                   int64
		disabled, stateful    bool
	)
	if err := sc.Scan(&d.name, &until, &since, &d.pauses, &disabled, &d.cause, &d.reason, &d.maxInFlight, &changed, &stateful, &d.served,
		&d.rate, &d.burst, &tat); err != nil {
		return nil, err
	}
	d.pausedUntil, d.pausedSince, d.changedAt, d.tat = fromNanos(until), fromNanos(since), fromNanos(changed), fromNanos(tat)
	d.disabled, d.stateful = disabled, stateful
	return &d, nil
}

// loadDest returns the named destination's row, or a fresh one (not yet
// stored) when it has none.
func loadDest(ctx context.Context, tx *sql.Tx, name string) (*dest, bool, error) {
	d, err := scanDest(tx.QueryRowContext(ctx, `SELECT `+destColumns+` FROM outbox_destinations WHERE name = ?`, name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &dest{name: name}, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("sqlite: destination %q: %w", name, err)
	}
	return d, true, nil
}

// loadDests returns every destinations row by name.
func loadDests(ctx context.Context, tx *sql.Tx) (map[string]*dest, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+destColumns+` FROM outbox_destinations`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: destinations: %w", err)
	}
	defer rows.Close()
	out := make(map[string]*dest)
	for rows.Next() {
		d, err := scanDest(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: destinations: %w", err)
		}
		out[d.name] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: destinations: %w", err)
	}
	return out, nil
}

// save writes d's row.
func (d *dest) save(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox_destinations (`+destColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET paused_until = excluded.paused_until, paused_since = excluded.paused_since,
			pauses = excluded.pauses, disabled = excluded.disabled, cause = excluded.cause, reason = excluded.reason,
			max_in_flight = excluded.max_in_flight, changed_at = excluded.changed_at, stateful = excluded.stateful,
			served = excluded.served, rate = excluded.rate, burst = excluded.burst, rate_tat = excluded.rate_tat`,
		d.name, nanos(d.pausedUntil), nanos(d.pausedSince), d.pauses, d.disabled, d.cause, d.reason,
		d.maxInFlight, nanos(d.changedAt), d.stateful, d.served, d.rate, d.burst, nanos(d.tat))
	if err != nil {
		return fmt.Errorf("sqlite: save destination %q: %w", d.name, err)
	}
	return nil
}

// status is d's status at now.
func (d *dest) status(now time.Time) delivery.DestinationStatus {
	return delivery.DestinationStatusAt(d.disabled, d.pausedUntil, now)
}

// leaseRoom is how many more records of d Claim may lease at now by its
// status and MaxInFlight, with leased of its records under unexpired
// leases.
func (d *dest) leaseRoom(now time.Time, leased int) int {
	return delivery.ClaimRoom(d.status(now), d.maxInFlight, leased)
}

// room is leaseRoom within the tokens d's rate limit has at now.
func (d *dest) room(now time.Time, leased int) int {
	n, _ := delivery.GCRA(d.tat, now, d.rate, d.burst, d.leaseRoom(now, leased))
	return n
}

// state is d without its figures.
func (d *dest) state(now time.Time) delivery.Destination {
	return delivery.Destination{
		Name: d.name, Status: d.status(now), PausedUntil: d.pausedUntil, PausedSince: d.pausedSince,
		Pauses: d.pauses, Cause: d.cause, Reason: d.reason, MaxInFlight: d.maxInFlight, ChangedAt: d.changedAt,
		Rate: d.rate, Burst: d.burst,
	}
}

func (d *dest) activate(now time.Time) {
	d.pausedUntil, d.pausedSince, d.pauses = time.Time{}, time.Time{}, 0
	d.disabled, d.cause, d.reason = false, "", ""
	d.changedAt = now
}

// PauseDestination implements delivery.Store.
func (s *Store) PauseDestination(ctx context.Context, name string, p delivery.Pause) (delivery.Destination, error) {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return delivery.Destination{}, fmt.Errorf("sqlite: pause: %w", err)
	}
	var out delivery.Destination
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if err := delivery.ValidatePause(p, now); err != nil {
			return fmt.Errorf("sqlite: pause %q: %w", name, err)
		}
		d, _, err := loadDest(ctx, tx, name)
		if err != nil {
			return err
		}
		d.stateful = true
		if d.status(now) != delivery.DestinationPaused {
			d.pauses++ // a new pause, not one more failure during this one
		}
		until := p.Until
		if p.Length != nil {
			if l := now.Add(p.Length(d.pauses)); l.After(until) {
				until = l
			}
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
		out = d.state(now)
		return d.save(ctx, tx)
	})
	return out, err
}

// ResumeAfterProbe implements delivery.Store.
func (s *Store) ResumeAfterProbe(ctx context.Context, name string) (bool, error) {
	resumed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, ok, err := loadDest(ctx, tx, name)
		now := s.now()
		if err != nil || !ok || d.status(now) != delivery.DestinationProbing {
			return err
		}
		d.activate(now)
		resumed = true
		return d.save(ctx, tx)
	})
	if err != nil {
		return false, err
	}
	if resumed {
		s.signal() // its held-back records are claimable at once
	}
	return resumed, nil
}

// ResumeDestination implements delivery.Store.
func (s *Store) ResumeDestination(ctx context.Context, name string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, ok, err := loadDest(ctx, tx, name)
		if err != nil {
			return err
		}
		if !ok {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM outbox_records WHERE destination = ? LIMIT 1`, name).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlite: resume destination %q: %w", name, delivery.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("sqlite: resume destination %q: %w", name, err)
			}
		}
		d.activate(s.now())
		return d.save(ctx, tx)
	})
	if err == nil {
		s.signal()
	}
	return err
}

// DisableDestination implements delivery.Store.
func (s *Store) DisableDestination(ctx context.Context, name, cause, reason string) error {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return fmt.Errorf("sqlite: disable: %w", err)
	}
	if cause == "" {
		return fmt.Errorf("sqlite: disable %q: a cause is required: %w", name, delivery.ErrInvalid)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		d, _, err := loadDest(ctx, tx, name)
		if err != nil {
			return err
		}
		d.stateful = true
		d.disabled, d.cause, d.reason = true, cause, delivery.RedactedText(reason)
		d.changedAt = s.now()
		return d.save(ctx, tx)
	})
}

// SetDestinationLimits implements delivery.Store.
func (s *Store) SetDestinationLimits(ctx context.Context, name string, l delivery.DestinationLimits) error {
	if err := delivery.ValidateDestinationName(name); err != nil {
		return fmt.Errorf("sqlite: limits: %w", err)
	}
	if err := delivery.ValidateDestinationLimits(l); err != nil {
		return fmt.Errorf("sqlite: limits of %q: %w", name, err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		d, _, err := loadDest(ctx, tx, name)
		if err != nil {
			return err
		}
		if d.maxInFlight != l.MaxInFlight || d.rate != l.Rate || d.burst != l.Burst {
			d.maxInFlight, d.rate, d.burst = l.MaxInFlight, l.Rate, l.Burst
			d.changedAt = s.now()
		}
		d.stateful = true
		return d.save(ctx, tx)
	})
}

// Destinations implements delivery.Store.
func (s *Store) Destinations(ctx context.Context) ([]delivery.Destination, error) {
	var out []delivery.Destination
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		dests, err := loadDests(ctx, tx)
		if err != nil {
			return err
		}
		figures := make(map[string]*delivery.Destination)
		rows, err := tx.QueryContext(ctx, `SELECT destination, state, count(*),
				min(CASE WHEN state IN (1, 2) THEN created_at END)
			FROM outbox_records WHERE state IN (1, 2, 4) GROUP BY destination, state`)
		if err != nil {
			return fmt.Errorf("sqlite: destinations: %w", err)
		}
		defer rows.Close()
		oldest := make(map[string]int64)
		for rows.Next() {
			var (
				name  string
				state int
				n     int64
				old   sql.NullInt64
			)
			if err := rows.Scan(&name, &state, &n, &old); err != nil {
				return fmt.Errorf("sqlite: destinations: %w", err)
			}
			f := figures[name]
			if f == nil {
				f = &delivery.Destination{Name: name}
				figures[name] = f
			}
			switch delivery.State(state) {
			case delivery.StatePending:
				f.Pending = n
			case delivery.StateInFlight:
				f.InFlight = n
			case delivery.StateDead:
				f.Dead = n
			}
			if old.Valid {
				if o, ok := oldest[name]; !ok || old.Int64 < o {
					oldest[name] = old.Int64
				}
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: destinations: %w", err)
		}
		for name, d := range dests {
			if d.stateful && figures[name] == nil {
				figures[name] = &delivery.Destination{Name: name}
			}
		}
		for name, f := range figures {
			dd := delivery.Destination{Name: name}
			if d := dests[name]; d != nil {
				dd = d.state(now)
			}
			dd.Pending, dd.InFlight, dd.Dead = f.Pending, f.InFlight, f.Dead
			if o, ok := oldest[name]; ok {
				dd.OldestPending = now.Sub(fromNanos(o))
			}
			out = append(out, dd)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b delivery.Destination) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DestinationLimits implements delivery.LimitsReader.
func (s *Store) DestinationLimits(ctx context.Context, name string) (delivery.DestinationLimits, error) {
	var out delivery.DestinationLimits
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		d, _, err := loadDest(ctx, tx, name)
		if err != nil {
			return err
		}
		out = delivery.DestinationLimits{MaxInFlight: d.maxInFlight, Rate: d.rate, Burst: d.burst}
		return nil
	})
	return out, err
}
