package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/text"
)

// settle runs update, an UPDATE of the record claimed under l whose last
// two parameters are its id and lease token, and tells ErrNotFound from
// ErrLeaseLost when it matched nothing.
func (s *Store) settle(ctx context.Context, l delivery.Lease, update string, args ...any) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update+` WHERE id = ? AND state = 2 AND lease_token = ? AND lease_token <> ''`,
			append(args, l.ID, l.Token)...)
		if err != nil {
			return fmt.Errorf("sqlite: settle %q: %w", l.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: settle %q: %w", l.ID, err)
		} else if n == 1 {
			return nil
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM outbox_records WHERE id = ?`, l.ID).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sqlite: record %q: %w", l.ID, delivery.ErrNotFound)
		case err != nil:
			return fmt.Errorf("sqlite: settle %q: %w", l.ID, err)
		}
		return fmt.Errorf("sqlite: record %q: %w", l.ID, delivery.ErrLeaseLost)
	})
}

// attemptSQL records an attempt: attemptArgs's parameters. A first
// attempt, the common case, makes the history a one-element array by
// plain text, without parsing any JSON (the driver is C translated to Go,
// and a settle holds the write lock). While a history is short enough that
// no trim can be needed (each stored attempt is at most maxAttempt bytes:
// attemptArgs bounds its texts) the attempt is appended as it is.
// Otherwise the history is expanded, the attempt appended, and the newest
// kept within the bounds.
var attemptSQL = `attempts = attempts + 1,
	last_started_at = ?, last_duration = ?, last_status = ?, last_class = ?, last_error = ?, last_response = ?,
	history = CASE
		WHEN history = '[]' AND ? > 0 THEN '[' || ? || ']'
		WHEN json_array_length(history) + 1 <= ? AND (json_array_length(history) + 1) * ` + maxAttempt + ` <= ?
		THEN json_insert(history, '$[#]', json(?))
		ELSE (SELECT json_group_array(json(e)) FROM (
		SELECT e FROM (
			SELECT x.value AS e, x.key AS i, row_number() OVER w AS n,
				sum(length(CAST(coalesce(json_extract(x.value, '$.error'), '') AS BLOB))
					+ length(CAST(coalesce(json_extract(x.value, '$.response'), '') AS BLOB)) + ` + overhead + `) OVER w AS b
			FROM json_each(json_insert(history, '$[#]', json(?))) AS x
			WINDOW w AS (ORDER BY x.key DESC)
		) WHERE n <= ? AND (n = 1 OR b <= ?) ORDER BY i
	)) END`

// overhead is delivery.AttemptOverhead in SQL; maxAttempt the largest
// size (delivery.AttemptSize) of an attempt the store keeps.
var (
	overhead   = strconv.Itoa(delivery.AttemptOverhead)
	maxAttempt = strconv.Itoa(delivery.MaxErrorText + delivery.MaxResponseText + delivery.AttemptOverhead)
)

// attemptArgs are attemptSQL's parameters for attempt a: its columns, then
// its encoding and the store's History bounds, which the history
// expression appends it under (newest kept while MaxAttempts > 0, oldest
// dropped first, sizes as delivery.AttemptSize).
// Its texts are kept to their documented bounds (delivery.MaxErrorText,
// delivery.MaxResponseText), cut at a UTF-8 boundary.
func (s *Store) attemptArgs(a delivery.Attempt) []any {
	a.Error = text.Truncate(a.Error, delivery.MaxErrorText)
	a.Response = text.Truncate(a.Response, delivery.MaxResponseText)
	a.Channel = text.Truncate(a.Channel, delivery.MaxChannelText)
	enc := string(delivery.EncodeAttempt(a))
	most, size := int64(s.history.MaxAttempts), int64(s.history.MaxBytes)
	return []any{nanos(a.StartedAt), int64(a.Duration), a.Status, int64(a.Class), a.Error, a.Response,
		most, enc, most, size, enc, enc, most, size}
}

// finishSQL moves a claimed record to a terminal state (the first
// parameter), recording the attempt (attemptArgs) and updated_at.
var finishSQL = `UPDATE outbox_records SET state = ?, ` + attemptSQL + `,
	lease_token = '', lease_expires_at = 0, updated_at = ?`

func (s *Store) finish(ctx context.Context, l delivery.Lease, to delivery.State, a delivery.Attempt, extra string, extraArgs ...any) error {
	args := append([]any{int64(to)}, s.attemptArgs(a)...)
	args = append(args, nanos(s.now()))
	return s.settle(ctx, l, finishSQL+extra, append(args, extraArgs...)...)
}

// Complete implements delivery.Store.
func (s *Store) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, duplicate bool) error {
	return s.finish(ctx, l, delivery.StateDelivered, a, `, duplicate = ?`, duplicate)
}

// DeadLetter implements delivery.Store.
func (s *Store) DeadLetter(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	return s.finish(ctx, l, delivery.StateDead, a, "")
}

// Discard implements delivery.Store.
func (s *Store) Discard(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	return s.finish(ctx, l, delivery.StateDiscarded, a, "")
}

// Reschedule implements delivery.Store.
func (s *Store) Reschedule(ctx context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	now := nanos(s.now())
	if a == nil {
		return s.settle(ctx, l, `UPDATE outbox_records SET state = 1, next_attempt_at = ?, deferrals = deferrals + 1,
			lease_token = '', lease_expires_at = 0, updated_at = ?`, nanos(next), now)
	}
	args := append([]any{nanos(next)}, s.attemptArgs(*a)...)
	return s.settle(ctx, l, `UPDATE outbox_records SET state = 1, next_attempt_at = ?, `+attemptSQL+`,
		lease_token = '', lease_expires_at = 0, updated_at = ?`, append(args, now)...)
}

// Release implements delivery.Store.
func (s *Store) Release(ctx context.Context, l delivery.Lease) error {
	now := nanos(s.now())
	return s.settle(ctx, l, `UPDATE outbox_records SET state = 1, next_attempt_at = ?,
		lease_token = '', lease_expires_at = 0, updated_at = ?`, now, now)
}
