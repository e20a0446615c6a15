package postgres

import (
	"context"
	"fmt"
	"time"
)

// NextDue implements delivery.NextDuer: the earliest next_attempt_at of a
// pending head of its key, or the earliest lease expiry of an in-flight
// record, whichever is sooner; ok is false when there is neither. It is
// one round trip of two index-only lookups, each the first entry of a
// partial index (the claim index and the lease index), so its cost does not
// grow with the backlog or the retained history, and a dispatcher may ask
// after every run. Records blocked behind their key's head are not in the
// claim index and do not count. The time may be in the past. It is on the
// caller's clock: the server's time, as far from the caller's now as it is
// from the server's (see the package doc, Clocks).
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var head, lease *time.Time
	var dbNow time.Time
	st := s.stamp()
	if err := s.pool.QueryRow(ctx, s.q.nextDue).Scan(&head, &lease, &dbNow); err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: next due: %w", err)
	}
	var due *time.Time
	switch {
	case head == nil && lease == nil:
		return time.Time{}, false, nil
	case head == nil:
		due = lease
	case lease == nil || !lease.Before(*head):
		due = head
	default:
		due = lease
	}
	return st.fromDatabase(*due, dbNow), true, nil
}
