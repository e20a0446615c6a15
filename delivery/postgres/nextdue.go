package postgres

import (
	"context"
	"fmt"
	"time"
)

// NextDue implements delivery.NextDuer: the earliest time a pending head
// of its (destination, key) becomes claimable (its next_attempt_at, or the
// end of its destination's pause if later; never for a disabled
// destination, nor one at its MaxInFlight, which a lease ending or a
// settle frees), or the earliest lease expiry of an in-flight record,
// whichever is sooner; ok is false when there is neither. It is one round
// trip: per destination, the first entry of the claim index for it, and
// the first entry of the lease index, so its cost grows with the number of
// destinations, not with the backlog or the retained history, and a
// dispatcher may ask after every run. Records blocked behind their key's
// head are not in the claim index and do not count. The time may be in the past. It is on the
// caller's clock: the server's time, as far from the caller's now as it is
// from the server's (see the package doc, Clocks).
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var head, lease *time.Time
	var dbNow time.Time
	st := s.stamp()
	if err := s.pool.QueryRow(ctx, s.q.nextDue, st.now).Scan(&head, &lease, &dbNow); err != nil {
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
