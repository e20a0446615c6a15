package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// CancelledText is the LastAttempt.Error of a record cancelled by Cancel.
const CancelledText = "cancelled by an operator"

// redriveBatch bounds how many records one RedriveMatching transaction
// moves.
const redriveBatch = 500

// recordsIn returns the distinct ids, in order, after checking that each
// names a record in state want; an unknown id is ErrNotFound, another
// state ErrInvalid.
func recordsIn(ctx context.Context, tx *sql.Tx, op string, want delivery.State, ids []string) ([]string, error) {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		var st int64
		err := tx.QueryRowContext(ctx, `SELECT state FROM outbox_records WHERE id = ?`, id).Scan(&st)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("sqlite: %s %q: %w", op, id, delivery.ErrNotFound)
		case err != nil:
			return nil, fmt.Errorf("sqlite: %s %q: %w", op, id, err)
		case delivery.State(st) != want:
			return nil, fmt.Errorf("sqlite: %s %q: record is %s, not %s: %w", op, id, delivery.State(st), want, delivery.ErrInvalid)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// Redrive implements delivery.Store.
func (s *Store) Redrive(ctx context.Context, ids ...string) (int, error) {
	moved := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		recs, err := recordsIn(ctx, tx, "redrive", delivery.StateDead, ids)
		if err != nil {
			return err
		}
		moved = len(recs)
		return s.redrive(ctx, tx, recs)
	})
	if err != nil {
		return 0, err
	}
	if moved > 0 {
		s.signal()
	}
	return moved, nil
}

// redrive moves the dead records ids back to pending, due now, at the back
// of their queues.
func (s *Store) redrive(ctx context.Context, tx *sql.Tx, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	seq, err := nextCounter(ctx, tx, "seq", int64(len(ids)))
	if err != nil {
		return err
	}
	now := nanos(s.now())
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, `UPDATE outbox_records SET state = 1, attempts = 0, next_attempt_at = ?, redriven_at = ?,
			updated_at = ?, seq = ?, lease_token = '', lease_expires_at = 0 WHERE id = ?`, now, now, now, seq, id)
		if err != nil {
			return fmt.Errorf("sqlite: redrive %q: %w", id, err)
		}
		seq++
	}
	return nil
}

// RedriveMatching implements delivery.Store, in transactions of at most
// 500 records each.
func (s *Store) RedriveMatching(ctx context.Context, f delivery.Filter) (int, error) {
	where := []string{"state = 4"}
	var args []any
	if f.Key != "" {
		where, args = append(where, "key = ?"), append(args, f.Key)
	}
	if f.Destination != "" {
		where, args = append(where, "destination = ?"), append(args, f.Destination)
	}
	if len(f.Classes) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(f.Classes)), ", ")
		where = append(where, "last_class IN ("+marks+")")
		for _, c := range f.Classes {
			args = append(args, int64(c))
		}
	}
	if !f.UpdatedBefore.IsZero() {
		where, args = append(where, "updated_at < ?"), append(args, nanos(f.UpdatedBefore))
	}
	query := `SELECT id FROM outbox_records WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq LIMIT ?`
	args = append(args, redriveBatch)
	total := 0
	for {
		n := 0
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("sqlite: redrive matching: %w", err)
			}
			var ids []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return fmt.Errorf("sqlite: redrive matching: %w", err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("sqlite: redrive matching: %w", err)
			}
			n = len(ids)
			return s.redrive(ctx, tx, ids)
		})
		if err != nil {
			return total, err
		}
		total += n
		if n > 0 {
			s.signal()
		}
		if n < redriveBatch {
			return total, nil
		}
	}
}

// Cancel implements delivery.Store.
func (s *Store) Cancel(ctx context.Context, ids ...string) (int, error) {
	moved := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		recs, err := recordsIn(ctx, tx, "cancel", delivery.StatePending, ids)
		if err != nil {
			return err
		}
		now := nanos(s.now())
		for _, id := range recs {
			_, err := tx.ExecContext(ctx, `UPDATE outbox_records SET state = 5, last_started_at = 0, last_duration = 0,
				last_status = 0, last_class = ?, last_error = ?, last_response = '', updated_at = ? WHERE id = ?`,
				int64(classify.ClassDiscard), CancelledText, now, id)
			if err != nil {
				return fmt.Errorf("sqlite: cancel %q: %w", id, err)
			}
		}
		moved = len(recs)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return moved, nil
}

// RetryNow implements delivery.Store.
func (s *Store) RetryNow(ctx context.Context, ids ...string) (int, error) {
	moved := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		recs, err := recordsIn(ctx, tx, "retry now", delivery.StatePending, ids)
		if err != nil {
			return err
		}
		now := nanos(s.now())
		for _, id := range recs {
			_, err := tx.ExecContext(ctx, `UPDATE outbox_records SET next_attempt_at = ?, updated_at = ?
				WHERE id = ? AND next_attempt_at > ?`, now, now, id, now)
			if err != nil {
				return fmt.Errorf("sqlite: retry now %q: %w", id, err)
			}
		}
		moved = len(recs)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if moved > 0 {
		s.signal()
	}
	return moved, nil
}
