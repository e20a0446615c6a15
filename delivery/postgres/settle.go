package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/text"
)

// Settling statements are single UPDATEs guarded by id, lease token and
// state, so a worker whose lease was taken over cannot overwrite the newer
// claim. Zero rows updated is told apart as delivery.ErrNotFound (no such
// id) or delivery.ErrLeaseLost (anything else) by the same statement.
// Every settle goes through group commit (groupcommit.go).

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
// promotion of its key's next record travel in one round trip and one
// transaction (a pipelined batch, shared with other settles by group
// commit) but are two statements, so the promotion sees every record
// committed before the key's row was locked.
func (s *Store) finish(ctx context.Context, op string, l delivery.Lease, to delivery.State, a delivery.Attempt, duplicate bool) error {
	if err := checkLease(op, &l); err != nil {
		return err
	}
	a = storableAttempt(a)
	t := &terminal{id: l.ID, token: l.Token, state: int16(to), started: nullTS(a.StartedAt), duration: int64(a.Duration),
		status: int32(a.Status), class: int16(a.Class), errText: a.Error, duplicate: duplicate, now: s.stamp().now,
		response: a.Response, attempt: string(delivery.EncodeAttempt(a))}
	return s.settle(ctx, &settleReq{op: op, id: l.ID, term: t})
}

// terminal is a terminal settle's values (settleTerminal's parameters
// $1 to $12), which group commit sends together with the other terminal
// settles of its flush as arrays (settleTerminalMany), or on their own.
type terminal struct {
	id, token string
	state     int16
	started   *time.Time
	duration  int64
	status    int32
	class     int16
	errText   string
	duplicate bool
	now       *time.Time
	response  string
	attempt   string
}

// args returns settleTerminal's parameters for t alone, with the
// history bounds (historyBounds).
func (t *terminal) args(maxAttempts, maxBytes int64) []any {
	return []any{t.id, t.token, t.state, t.started, t.duration, t.status, t.class, t.errText, t.duplicate, t.now,
		t.response, t.attempt, maxAttempts, maxBytes}
}

// Reschedule implements delivery.Store.
func (s *Store) Reschedule(ctx context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	if err := checkLease("reschedule", &l); err != nil {
		return err
	}
	st := s.stamp()
	r := &settleReq{op: "reschedule", id: l.ID, sql: s.q.rescheduleDeferral, args: []any{l.ID, l.Token, st.offset(next), st.now}}
	if a != nil {
		a := storableAttempt(*a)
		r.sql = s.q.rescheduleAttempt
		r.args = append([]any{l.ID, l.Token, st.offset(next), nullTS(a.StartedAt),
			int64(a.Duration), int32(a.Status), int16(a.Class), a.Error, st.now,
			a.Response}, s.historyArgs(a)...)
	}
	return s.settle(ctx, r)
}

// Release implements delivery.Store.
func (s *Store) Release(ctx context.Context, l delivery.Lease) error {
	if err := checkLease("release", &l); err != nil {
		return err
	}
	return s.settle(ctx, &settleReq{op: "release", id: l.ID, sql: s.q.release, args: []any{l.ID, l.Token, s.stamp().now}})
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

// storableAttempt returns a as the store keeps it: its time to the
// microsecond, its texts storable (storableText), so that its entry in the
// history equals LastAttempt read back and its Channel is text jsonb can
// hold.
func storableAttempt(a delivery.Attempt) delivery.Attempt {
	a.StartedAt = ts(a.StartedAt)
	a.Error = storableText(a.Error, delivery.MaxErrorText)
	a.Response = storableText(a.Response, delivery.MaxResponseText)
	a.Channel = storableText(a.Channel, delivery.MaxChannelText)
	return a
}

// historyArgs are the parameters of the history expression (queries.go)
// for attempt a: its encoding and the store's bounds.
func (s *Store) historyArgs(a delivery.Attempt) []any {
	maxAttempts, maxBytes := s.historyBounds()
	return []any{string(delivery.EncodeAttempt(a)), maxAttempts, maxBytes}
}

// historyBounds are the bounds of the history expression (queries.go):
// the store's History.MaxAttempts and MaxBytes.
func (s *Store) historyBounds() (maxAttempts, maxBytes int64) {
	return int64(s.cfg.History.MaxAttempts), int64(s.cfg.History.MaxBytes)
}

// storableText makes an attempt's error or response text storable: valid
// UTF-8 without NUL bytes (PostgreSQL text holds neither), at most
// limit bytes (delivery.MaxErrorText, delivery.MaxResponseText), never cut inside
// a UTF-8 sequence.
func storableText(s string, limit int) string {
	return text.Snippet(strings.ReplaceAll(s, "\x00", ""), limit)
}
