package memstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/outbound-go/outbound/delivery"
)

// ErrTxDone is returned by EnqueueTx, Commit and Rollback on a test
// transaction that has already been committed or rolled back.
var ErrTxDone = errors.New("memstore: transaction has already been committed or rolled back")

// Tx is a test transaction on a Store, for testing code that enqueues
// within its own transaction (delivery.TxEnqueuer) without a database.
// Records enqueued in it with Store.EnqueueTx become visible, and Notify
// fires, only at Commit; Rollback discards them. It is safe for concurrent
// use. It models the outbox's side of a transaction only: it isolates
// nothing else and takes no locks on the store.
type Tx struct {
	s *Store

	mu     sync.Mutex
	done   bool
	staged []delivery.Message // prepared, in enqueue order
	recs   []delivery.Record  // what EnqueueTx returned for staged[i]
	byID   map[string]int
	byIdem map[idemKey]int
}

var _ delivery.TxEnqueuer[*Tx] = (*Store)(nil)

// Begin starts a test transaction on s.
func (s *Store) Begin() *Tx {
	return &Tx{s: s, byID: map[string]int{}, byIdem: map[idemKey]int{}}
}

// EnqueueTx enqueues msgs within tx: they become records of s when tx
// commits, and never if it rolls back (delivery.TxEnqueuer). It resolves
// duplicates as Enqueue does, against the records s holds and the messages
// enqueued earlier in tx; a new message's record is returned pending, with
// Seq 0 (the store numbers it at Commit). A nil tx or one begun on another
// store is an error wrapping delivery.ErrInvalid, a finished one an error
// wrapping ErrTxDone, an invalid message one wrapping delivery.ErrInvalid
// and a mismatched duplicate one wrapping delivery.ErrConflict; after an
// error nothing of the call is staged.
func (s *Store) EnqueueTx(ctx context.Context, tx *Tx, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	if tx == nil {
		return nil, fmt.Errorf("memstore: enqueue: nil transaction: %w", delivery.ErrInvalid)
	}
	if tx.s != s {
		return nil, fmt.Errorf("memstore: enqueue: transaction begun on another store: %w", delivery.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prepared := make([]delivery.Message, len(msgs))
	for i := range msgs {
		m, err := delivery.PrepareMessage(ctx, msgs[i])
		if err != nil {
			return nil, fmt.Errorf("memstore: enqueue message %d: %w", i, err)
		}
		prepared[i] = m
	}

	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return nil, fmt.Errorf("memstore: enqueue: %w", ErrTxDone)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]delivery.Enqueued, len(prepared))
	// Stage into copies, so an error leaves tx as it was.
	staged, recs := tx.staged, tx.recs
	byID, byIdem := maps.Clone(tx.byID), maps.Clone(tx.byIdem)
	for i := range prepared {
		m := prepared[i]
		// The order Enqueue resolves in: a stored record by id, an
		// earlier message by id, then the same by idempotency key.
		var match *delivery.Record
		if r := s.byID[m.ID]; r != nil {
			snap := r.snapshot()
			match = &snap
		} else if j, ok := byID[m.ID]; ok {
			match = &recs[j]
		} else if r := s.byIdem[idemOf(&m)]; r != nil && m.IdempotencyKey != "" {
			snap := r.snapshot()
			match = &snap
		} else if j, ok := byIdem[idemOf(&m)]; ok && m.IdempotencyKey != "" {
			match = &recs[j]
		}
		if match != nil {
			if err := delivery.CheckMatch(&m, &match.Message); err != nil {
				return nil, fmt.Errorf("memstore: enqueue message %d: %w", i, err)
			}
			rec := *match
			rec.Headers = maps.Clone(rec.Headers)
			out[i] = delivery.Enqueued{Record: rec, Existing: true}
			continue
		}
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		rec := delivery.Record{Message: m, State: delivery.StatePending, NextAttemptAt: now, UpdatedAt: now}
		byID[m.ID] = len(staged)
		if m.IdempotencyKey != "" {
			byIdem[idemOf(&m)] = len(staged)
		}
		staged = append(staged, m)
		recs = append(recs, rec)
		rec.Headers = maps.Clone(rec.Headers)
		out[i] = delivery.Enqueued{Record: rec}
	}
	tx.staged, tx.recs, tx.byID, tx.byIdem = staged, recs, byID, byIdem
	return out, nil
}

// Commit makes the records enqueued in tx records of its store, all at
// once, as one Enqueue does, and signals Notify if any is new. It returns
// an error wrapping ErrTxDone if tx was already committed or rolled back,
// and Enqueue's error (wrapping delivery.ErrConflict) if a record stored
// since conflicts with one of tx's; then nothing of tx is stored. Either
// way tx is finished.
func (tx *Tx) Commit() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return fmt.Errorf("memstore: commit: %w", ErrTxDone)
	}
	tx.done = true
	staged := tx.staged
	tx.staged, tx.recs = nil, nil
	if len(staged) == 0 {
		return nil
	}
	if _, err := tx.s.Enqueue(context.Background(), staged...); err != nil {
		return fmt.Errorf("memstore: commit: %w", err)
	}
	return nil
}

// Rollback discards the records enqueued in tx: nothing is stored and
// Notify does not fire. It returns an error wrapping ErrTxDone if tx was
// already committed or rolled back.
func (tx *Tx) Rollback() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return fmt.Errorf("memstore: rollback: %w", ErrTxDone)
	}
	tx.done = true
	tx.staged, tx.recs = nil, nil
	return nil
}
