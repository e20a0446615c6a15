package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Claim implements delivery.Store. It is one statement: it locks up to
// limit claimable rows with FOR UPDATE SKIP LOCKED, so concurrent claimers
// in any number of processes never wait for each other nor take the same
// record, and leases them under one fresh token. Claimable rows are found
// through two partial indexes: pending heads of their key in due order,
// and in-flight rows by lease expiry, so a claim costs O(limit · log n)
// however many records wait behind busy keys or are retained as delivered.
func (s *Store) Claim(ctx context.Context, limit int, lease time.Duration) ([]delivery.Record, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("postgres: claim limit %d, lease %v: %w", limit, lease, delivery.ErrInvalid)
	}
	rows, err := s.pool.Query(ctx, s.q.claim, s.stamp().now, limit, delivery.NewToken(), lease.Truncate(time.Microsecond))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	slices.SortFunc(recs, func(a, b delivery.Record) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.Seq, b.Seq))
	})
	if recs == nil {
		recs = []delivery.Record{}
	}
	return recs, nil
}
