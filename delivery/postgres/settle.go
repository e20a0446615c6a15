package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/text"
)

// Settling statements are single UPDATEs guarded by id, lease token and
// state, so a worker whose lease was taken over cannot overwrite the newer
// claim. Zero rows updated is told apart as delivery.ErrNotFound (no such
// id) or delivery.ErrLeaseLost (anything else) by the same statement.

// Complete implements delivery.Store.
func (s *Store) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, duplicate bool) error {
	return s.finish(ctx, "complete", l, delivery.StateDelivered, a, duplicate)
}

// DeadLetter implements delivery.Store.
func (s *Store) DeadLetter(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	return s.finish(ctx, "dead-letter", l, delivery.StateDead, a, false)
}

// Discard implements delivery.Store.
func (s *Store) Discard(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	return s.finish(ctx, "discard", l, delivery.StateDiscarded, a, false)
}

// finish moves a claimed record to a terminal state. The settle and the
// promotion of its key's next record travel in one round trip (a pipelined
// batch, which PostgreSQL runs as one implicit transaction) but are two
// statements, so the promotion sees every record committed before the
// key's row was locked.
func (s *Store) finish(ctx context.Context, op string, l delivery.Lease, to delivery.State, a delivery.Attempt, duplicate bool) error {
	if err := checkLease(op, &l); err != nil {
		return err
	}
	b := &pgx.Batch{}
	var n int64
	var exists bool
	b.Queue(s.q.settleTerminal, l.ID, l.Token, int16(to), nullTS(a.StartedAt), int64(a.Duration),
		int32(a.Status), int16(a.Class), storableText(a.Error), duplicate, ts(s.now())).
		QueryRow(func(row pgx.Row) error { return row.Scan(&n, &exists) })
	b.Queue(s.q.promoteAfter, l.ID)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: %s %q: %w", op, l.ID, err)
	}
	return settled(op, l.ID, n, exists)
}

// Reschedule implements delivery.Store.
func (s *Store) Reschedule(ctx context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	if err := checkLease("reschedule", &l); err != nil {
		return err
	}
	now := ts(s.now())
	if a != nil {
		return s.settleOne(ctx, "reschedule", l.ID, s.q.rescheduleAttempt, l.ID, l.Token, ts(next), nullTS(a.StartedAt),
			int64(a.Duration), int32(a.Status), int16(a.Class), storableText(a.Error), now)
	}
	return s.settleOne(ctx, "reschedule", l.ID, s.q.rescheduleDeferral, l.ID, l.Token, ts(next), now)
}

// Release implements delivery.Store.
func (s *Store) Release(ctx context.Context, l delivery.Lease) error {
	if err := checkLease("release", &l); err != nil {
		return err
	}
	return s.settleOne(ctx, "release", l.ID, s.q.release, l.ID, l.Token, ts(s.now()))
}

// settleOne runs a settle statement that returns (rows updated, id exists).
func (s *Store) settleOne(ctx context.Context, op, id, sql string, args ...any) error {
	var n int64
	var exists bool
	if err := s.pool.QueryRow(ctx, sql, args...).Scan(&n, &exists); err != nil {
		return fmt.Errorf("postgres: %s %q: %w", op, id, err)
	}
	return settled(op, id, n, exists)
}

// checkLease answers a lease whose id is not storable text (no record can
// have it) without a round trip, and blanks a token that is not storable
// text: no claim has it, and the server would reject it.
func checkLease(op string, l *delivery.Lease) error {
	if !storable(l.ID) {
		return fmt.Errorf("postgres: %s %q: %w", op, l.ID, delivery.ErrNotFound)
	}
	if !storable(l.Token) {
		l.Token = ""
	}
	return nil
}

func settled(op, id string, n int64, exists bool) error {
	switch {
	case n == 1:
		return nil
	case !exists:
		return fmt.Errorf("postgres: %s %q: %w", op, id, delivery.ErrNotFound)
	default:
		return fmt.Errorf("postgres: %s %q: %w", op, id, delivery.ErrLeaseLost)
	}
}

// storableText makes an attempt's error text storable: valid UTF-8 without
// NUL bytes (PostgreSQL text holds neither), at most delivery.MaxErrorText
// bytes, never cut inside a UTF-8 sequence.
func storableText(s string) string {
	return text.Snippet(strings.ReplaceAll(s, "\x00", ""), delivery.MaxErrorText)
}
