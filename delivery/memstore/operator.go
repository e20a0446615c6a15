package memstore

import (
	"context"
	"fmt"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// CancelledText is the LastAttempt.Error of a record cancelled by Cancel.
const CancelledText = "cancelled by an operator"

// Cancel implements delivery.Store.
func (s *Store) Cancel(_ context.Context, ids ...string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.pendingRecords("cancel", ids)
	if err != nil {
		return 0, err
	}
	now := s.now()
	for _, r := range recs {
		attempts := r.Attempts
		s.finish(r, delivery.StateDiscarded, delivery.Attempt{Class: classify.ClassDiscard, Error: CancelledText}, now)
		r.Attempts = attempts // nothing was attempted
	}
	return len(recs), nil
}

// RetryNow implements delivery.Store.
func (s *Store) RetryNow(_ context.Context, ids ...string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.pendingRecords("retry now", ids)
	if err != nil {
		return 0, err
	}
	now := s.now()
	for _, r := range recs {
		if r.NextAttemptAt.After(now) {
			r.NextAttemptAt = now
			r.UpdatedAt = now
			r.gen++
			if s.isHead(r) {
				s.makeReady(r)
			}
		}
	}
	if len(recs) > 0 {
		s.signal()
	}
	return len(recs), nil
}

// pendingRecords returns the distinct pending records named by ids, or an
// error if one is unknown or not pending. Callers hold s.mu.
func (s *Store) pendingRecords(op string, ids []string) ([]*rec, error) {
	recs := make([]*rec, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		r := s.byID[id]
		if r == nil {
			return nil, fmt.Errorf("memstore: %s %q: %w", op, id, delivery.ErrNotFound)
		}
		if r.State != delivery.StatePending {
			return nil, fmt.Errorf("memstore: %s %q: record is %s, not pending: %w", op, id, r.State, delivery.ErrInvalid)
		}
		if !seen[id] {
			seen[id] = true
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// isHead reports whether r may be claimed by order: unkeyed, or first of
// its (destination, key). Callers hold s.mu.
func (s *Store) isHead(r *rec) bool {
	if r.Key == "" {
		return true
	}
	q := s.keys[orderKey(r)]
	return len(q) > 0 && q[0] == r
}
