package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Get implements delivery.Store.
func (s *Store) Get(ctx context.Context, id string) (delivery.Record, error) {
	r, err := scanRecord(s.reads.QueryRowContext(ctx, `SELECT `+readColumns+` FROM outbox_records WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return delivery.Record{}, fmt.Errorf("sqlite: record %q: %w", id, delivery.ErrNotFound)
	case err != nil:
		return delivery.Record{}, fmt.Errorf("sqlite: get %q: %w", id, err)
	}
	return r, nil
}

// List implements delivery.Store. Its cursor is the last Seq of a page.
func (s *Store) List(ctx context.Context, opts delivery.ListOptions) (delivery.Page, error) {
	limit, err := opts.PageSize()
	if err != nil {
		return delivery.Page{}, fmt.Errorf("sqlite: %w", err)
	}
	var after int64
	if opts.After != "" {
		n, err := strconv.ParseInt(opts.After, 10, 64)
		if err != nil || n < 0 {
			return delivery.Page{}, fmt.Errorf("sqlite: list cursor %q: %w", opts.After, delivery.ErrInvalid)
		}
		after = n
	}
	if !delivery.SearchableText(opts.ErrorContains) {
		return delivery.Page{}, nil
	}
	// Zero times travel as 0 (no lower bound) and the largest int64 (no
	// upper bound).
	upTo := int64(math.MaxInt64)
	if !opts.UpdatedBefore.IsZero() {
		upTo = nanos(opts.UpdatedBefore)
	}
	rows, err := s.reads.QueryContext(ctx, `SELECT `+readColumns+` FROM outbox_records
		WHERE seq > ? AND (? = 0 OR state = ?) AND (? = '' OR destination = ?) AND (? = '' OR key = ?)
			AND updated_at >= ? AND updated_at < ? AND (? = '' OR instr(last_error, ?) > 0)
		ORDER BY seq LIMIT ?`,
		after, int64(opts.State), int64(opts.State), opts.Destination, opts.Destination, opts.Key, opts.Key,
		nanos(opts.UpdatedAfter), upTo, opts.ErrorContains, opts.ErrorContains, limit+1)
	if err != nil {
		return delivery.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	defer rows.Close()
	var page delivery.Page
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return delivery.Page{}, fmt.Errorf("sqlite: list: %w", err)
		}
		if len(page.Records) == limit {
			page.Next = strconv.FormatInt(page.Records[limit-1].Seq, 10)
			break
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return delivery.Page{}, fmt.Errorf("sqlite: list: %w", err)
	}
	return page, nil
}

// Stats implements delivery.Store. Its counts are exact.
func (s *Store) Stats(ctx context.Context) (delivery.Stats, error) {
	var st delivery.Stats
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		rows, err := tx.QueryContext(ctx, `SELECT state, count(*) FROM outbox_records GROUP BY state`)
		if err != nil {
			return fmt.Errorf("sqlite: stats: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var state, n int64
			if err := rows.Scan(&state, &n); err != nil {
				return fmt.Errorf("sqlite: stats: %w", err)
			}
			if delivery.State(state).Valid() {
				st.Counts[state] = n
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: stats: %w", err)
		}
		var created, due sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT min(created_at) FROM outbox_records WHERE state IN (1, 2)`).Scan(&created); err != nil {
			return fmt.Errorf("sqlite: stats: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM outbox_records WHERE state = 1 AND next_attempt_at <= ?`,
			nanos(now)).Scan(&due); err != nil {
			return fmt.Errorf("sqlite: stats: %w", err)
		}
		if created.Valid {
			st.OldestPending = max(0, now.Sub(fromNanos(created.Int64)))
		}
		if due.Valid {
			st.OldestDue = max(0, now.Sub(fromNanos(due.Int64)))
		}
		return nil
	})
	return st, err
}

// Purge implements delivery.Store.
func (s *Store) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("sqlite: purge limit %d: %w", limit, delivery.ErrInvalid)
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox_records WHERE id IN (SELECT id FROM outbox_records
			WHERE state IN (3, 5) AND updated_at < ? ORDER BY updated_at, seq LIMIT ?)`, nanos(before), limit)
		if err != nil {
			return fmt.Errorf("sqlite: purge: %w", err)
		}
		m, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: purge: %w", err)
		}
		n = int(m)
		return nil
	})
	return n, err
}

// NextDue implements delivery.NextDuer: the earliest due time of a head
// record of a destination that may be claimed from (the end of its pause
// when later), or the earliest lease expiry.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var due time.Time
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		n := nanos(now)
		dests, err := loadDests(ctx, tx)
		if err != nil {
			return err
		}
		leased, err := leasedCounts(ctx, tx, n)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT r.destination, min(r.next_attempt_at) FROM outbox_records r
			WHERE r.state = 1 AND `+headOfKey+` GROUP BY r.destination`, n)
		if err != nil {
			return fmt.Errorf("sqlite: next due: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				name string
				at   int64
			)
			if err := rows.Scan(&name, &at); err != nil {
				return fmt.Errorf("sqlite: next due: %w", err)
			}
			t := fromNanos(at)
			if d := dests[name]; d != nil {
				switch {
				case d.disabled:
					continue
				case d.pausedUntil.After(now):
					if d.pausedUntil.After(t) {
						t = d.pausedUntil
					}
				case d.leaseRoom(now, leased[name]) == 0:
					continue
				case d.room(now, leased[name]) == 0: // no token: the next one is due at
					if next := delivery.GCRANext(d.tat, d.rate, d.burst); next.After(t) {
						t = next
					}
				}
			}
			if due.IsZero() || t.Before(due) {
				due = t
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: next due: %w", err)
		}
		var lease sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT min(lease_expires_at) FROM outbox_records WHERE state = 2`).Scan(&lease); err != nil {
			return fmt.Errorf("sqlite: next due: %w", err)
		}
		if lease.Valid {
			if t := fromNanos(lease.Int64); due.IsZero() || t.Before(due) {
				due = t
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return due, !due.IsZero(), nil
}
