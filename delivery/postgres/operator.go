package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// CancelledText is the LastAttempt.Error of a record cancelled by Cancel.
const CancelledText = "cancelled by an operator"

// Cancel implements delivery.Store. It runs in one transaction: it locks
// the records, checks that every one exists and is pending (else it
// changes nothing), moves them to discarded without counting an attempt,
// takes them out of their (destination, key)'s live count and lets the
// next record of each through, as a settle would.
func (s *Store) Cancel(ctx context.Context, ids ...string) (int, error) {
	return s.onPending(ctx, "cancel", ids, func(tx pgx.Tx, refs []deadRef) error {
		uniq := make([]string, len(refs))
		var pairs []orderKey
		for i, r := range refs {
			uniq[i] = r.id
			if r.key != "" {
				pairs = append(pairs, orderKey{r.dest, r.key})
			}
		}
		pairs = sortedPairs(pairs)
		b := &pgx.Batch{}
		if len(pairs) > 0 {
			dests, keys := splitPairs(pairs)
			b.Queue(s.q.lockKeys, dests, keys)
			b.Queue(s.q.cancel, uniq, s.stamp().now, CancelledText, int16(classify.ClassDiscard))
			b.Queue(s.q.dropIdleKeys, dests, keys)
			b.Queue(s.q.promoteKeys, dests, keys)
		} else {
			b.Queue(s.q.cancel, uniq, s.stamp().now, CancelledText, int16(classify.ClassDiscard))
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// RetryNow implements delivery.Store: all or nothing like Cancel. A
// record waiting behind its key's head, or for its destination's pause to
// end, becomes due now but is still claimed only when those allow it.
// Listening dispatchers are woken.
func (s *Store) RetryNow(ctx context.Context, ids ...string) (int, error) {
	return s.onPending(ctx, "retry now", ids, func(tx pgx.Tx, refs []deadRef) error {
		uniq := make([]string, len(refs))
		for i, r := range refs {
			uniq[i] = r.id
		}
		_, err := tx.Exec(ctx, s.q.retryNow, uniq, s.stamp().now, s.n.Channel)
		return err
	})
}

// onPending locks the distinct records named by ids in a transaction,
// checks that each exists and is pending, runs act on them and commits.
func (s *Store) onPending(ctx context.Context, op string, ids []string, act func(pgx.Tx, []deadRef) error) (int, error) {
	uniq := make([]string, 0, len(ids))
	for _, id := range ids {
		if !storable(id) {
			return 0, fmt.Errorf("postgres: %s %q: %w", op, id, delivery.ErrNotFound)
		}
		if !slices.Contains(uniq, id) {
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		return 0, nil
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: begin: %w", op, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, s.q.lockForRedrive, uniq)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	found, err := collectDeadRefs(rows)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	byID := make(map[string]deadRef, len(found))
	for _, r := range found {
		byID[r.id] = r
	}
	refs := make([]deadRef, 0, len(uniq))
	for _, id := range uniq {
		r, ok := byID[id]
		if !ok {
			return 0, fmt.Errorf("postgres: %s %q: %w", op, id, delivery.ErrNotFound)
		}
		if st := delivery.State(r.state); st != delivery.StatePending {
			return 0, fmt.Errorf("postgres: %s %q: record is %s, not pending: %w", op, id, st, delivery.ErrInvalid)
		}
		refs = append(refs, r)
	}
	if err := act(tx, refs); err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: %s: commit: %w", op, err)
	}
	return len(refs), nil
}

// orderKey is what per-key ordering is scoped to: a key at a destination.
type orderKey struct{ dest, key string }

// sortedPairs sorts and deduplicates pairs, the order in which their rows
// are locked (so two callers cannot deadlock).
func sortedPairs(pairs []orderKey) []orderKey {
	slices.SortFunc(pairs, func(a, b orderKey) int {
		if a.dest != b.dest {
			if a.dest < b.dest {
				return -1
			}
			return 1
		}
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	return slices.Compact(pairs)
}

// splitPairs returns pairs as the two arrays the statements unnest.
func splitPairs(pairs []orderKey) (dests, keys []string) {
	dests, keys = make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		dests[i], keys[i] = p.dest, p.key
	}
	return dests, keys
}
