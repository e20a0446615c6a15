package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// headOfKey holds for a record r that per-key ordering lets through: no
// other live record of its (destination, key) comes before it, and none is
// in flight under an unexpired lease (pending records have no lease). Its
// one parameter is now.
const headOfKey = `(r.key = '' OR NOT EXISTS (SELECT 1 FROM outbox_records o
	WHERE o.destination = r.destination AND o.key = r.key AND o.state IN (1, 2) AND o.id <> r.id
		AND (o.seq < r.seq OR o.lease_expires_at > ?)))`

// Claim implements delivery.Store. It runs in one BEGIN IMMEDIATE
// transaction, so the leases every process holds are counted against
// MaxInFlight and per-key heads, and the round robin is applied in Go.
func (s *Store) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("sqlite: claim limit %d, lease %v: %w", limit, lease, delivery.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []delivery.Record{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		now := s.now()
		n := nanos(now)
		dests, err := loadDests(ctx, tx) // a row for every destination that has had a record
		if err != nil {
			return err
		}
		leased, err := leasedCounts(ctx, tx, n)
		if err != nil {
			return err
		}
		type cand struct {
			d       *dest
			recs    []delivery.Record
			probing bool
			took    int
		}
		var cands []*cand
		for name, d := range dests {
			if slices.Contains(skip, name) {
				continue
			}
			room := min(d.room(now, leased[name]), limit)
			if room == 0 {
				continue
			}
			recs, err := dueRecords(ctx, tx, name, n, room)
			if err != nil {
				return err
			}
			if len(recs) > 0 {
				cands = append(cands, &cand{d: d, recs: recs, probing: d.status(now) == delivery.DestinationProbing})
			}
		}
		if len(cands) == 0 {
			return nil
		}
		slices.SortFunc(cands, func(a, b *cand) int {
			return cmp.Or(cmp.Compare(a.d.served, b.d.served), cmp.Compare(a.d.name, b.d.name))
		})
		round, err := currentCounter(ctx, tx, "round")
		if err != nil {
			return err
		}
		token := delivery.NewToken()
		expires := now.Add(lease)
		for next := 0; len(out) < limit; next++ {
			took := false
			for _, c := range cands {
				if len(out) == limit {
					break
				}
				if next >= len(c.recs) {
					continue
				}
				r := c.recs[next]
				r.State, r.LeaseToken, r.LeaseExpiresAt, r.UpdatedAt = delivery.StateInFlight, token, expires, now
				r.Probe = c.probing
				if _, err := tx.ExecContext(ctx, `UPDATE outbox_records SET state = 2, lease_token = ?, lease_expires_at = ?, updated_at = ?
					WHERE id = ?`, token, nanos(expires), n, r.ID); err != nil {
					return fmt.Errorf("sqlite: claim %q: %w", r.ID, err)
				}
				round++
				c.d.served = round
				_, c.d.tat = delivery.GCRA(c.d.tat, now, c.d.rate, c.d.burst, 1)
				c.took++
				out = append(out, r)
				took = true
			}
			if !took {
				break
			}
		}
		for _, c := range cands {
			if c.took > 0 {
				if err := c.d.save(ctx, tx); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox_counters SET value = ? WHERE name = 'round'`, round)
		if err != nil {
			return fmt.Errorf("sqlite: claim: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// leasedCounts counts each destination's records under unexpired leases.
func leasedCounts(ctx context.Context, tx *sql.Tx, now int64) (map[string]int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT destination, count(*) FROM outbox_records
		WHERE state = 2 AND lease_expires_at > ? GROUP BY destination`, now)
	if err != nil {
		return nil, fmt.Errorf("sqlite: leases: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var (
			name string
			n    int
		)
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("sqlite: leases: %w", err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: leases: %w", err)
	}
	return out, nil
}

// dueRecords returns up to limit claimable records of a destination,
// oldest due first, ties by Seq: due pending records and records whose
// lease expired, each found through an index, merged.
func dueRecords(ctx context.Context, tx *sql.Tx, name string, now int64, limit int) ([]delivery.Record, error) {
	pending, err := queryRecords(ctx, tx, `SELECT `+claimColumns+` FROM outbox_records r
		WHERE r.destination = ? AND r.state = 1 AND r.next_attempt_at <= ? AND `+headOfKey+`
		ORDER BY r.next_attempt_at, r.seq LIMIT ?`, name, now, now, limit)
	if err != nil {
		return nil, err
	}
	expired, err := queryRecords(ctx, tx, `SELECT `+claimColumns+` FROM outbox_records r
		WHERE r.destination = ? AND r.state = 2 AND r.lease_expires_at <= ? AND `+headOfKey+`
		ORDER BY r.next_attempt_at, r.seq LIMIT ?`, name, now, now, limit)
	if err != nil {
		return nil, err
	}
	out := append(pending, expired...)
	slices.SortFunc(out, func(a, b delivery.Record) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.Seq, b.Seq))
	})
	return out[:min(limit, len(out))], nil
}

// queryRecords runs a query of recordColumns.
func queryRecords(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]delivery.Record, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim: %w", err)
	}
	defer rows.Close()
	var out []delivery.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: claim: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: claim: %w", err)
	}
	return out, nil
}

// currentCounter reads the named counter.
func currentCounter(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM outbox_counters WHERE name = ?`, name).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: counter %s: %w", name, err)
	}
	return v, nil
}
