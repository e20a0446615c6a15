package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// timeDuration converts stored nanoseconds to a duration.
func timeDuration(n int64) time.Duration { return time.Duration(n) }

// idemKey is what idempotency is scoped to: one key per destination.
type idemKey struct{ destination, key string }

// Enqueue implements delivery.Store. The records are stored in one
// transaction, durable once it returns.
func (s *Store) Enqueue(ctx context.Context, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	prepared, err := prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	var out []delivery.Enqueued
	created := 0
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, created, err = s.enqueueIn(ctx, tx, prepared)
		return err
	})
	if err != nil {
		return nil, err
	}
	if created > 0 {
		s.signal()
	}
	return out, nil
}

// prepare validates msgs and fills in their defaults; an error names the
// message and wraps delivery.ErrInvalid.
func prepare(ctx context.Context, msgs []delivery.Message) ([]delivery.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prepared := make([]delivery.Message, len(msgs))
	for i := range msgs {
		m, err := delivery.PrepareMessage(ctx, msgs[i])
		if err != nil {
			return nil, fmt.Errorf("sqlite: enqueue message %d: %w", i, err)
		}
		prepared[i] = m
	}
	return prepared, nil
}

// enqueueIn stores the prepared messages in tx, and returns their
// outcomes and how many records it created.
func (s *Store) enqueueIn(ctx context.Context, tx *sql.Tx, prepared []delivery.Message) ([]delivery.Enqueued, int, error) {
	out := make([]delivery.Enqueued, len(prepared))
	now := s.now()
	batchID := make(map[string]int, len(prepared))
	batchIdem := make(map[idemKey]int, len(prepared))
	var fresh []int
	from := make(map[int]int) // a match of an earlier message of the call
	for i := range prepared {
		m := &prepared[i]
		match, j, found, err := s.existing(ctx, tx, out, batchID, batchIdem, m)
		if err != nil {
			return nil, 0, err
		}
		if j >= 0 {
			from[i] = j
		}
		if found {
			if err := delivery.CheckMatch(m, &match.Message); err != nil {
				return nil, 0, fmt.Errorf("sqlite: enqueue message %d: %w", i, err)
			}
			out[i] = delivery.Enqueued{Record: match, Existing: true}
			continue
		}
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		out[i] = delivery.Enqueued{Record: delivery.Record{
			Message: *m, State: delivery.StatePending, NextAttemptAt: now, UpdatedAt: now,
		}}
		batchID[m.ID] = i
		if m.IdempotencyKey != "" {
			batchIdem[idemKey{m.Destination, m.IdempotencyKey}] = i
		}
		fresh = append(fresh, i)
	}
	if len(fresh) == 0 {
		return out, 0, nil
	}
	seq, err := nextCounter(ctx, tx, "seq", int64(len(fresh)))
	if err != nil {
		return nil, 0, err
	}
	known := make(map[string]bool)
	for _, i := range fresh {
		r := &out[i].Record
		r.Seq = seq
		seq++
		if err := insertRecord(ctx, tx, r); err != nil {
			return nil, 0, err
		}
		if !known[r.Destination] {
			known[r.Destination] = true
			// Claim visits the destinations through their rows.
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_destinations (name) VALUES (?) ON CONFLICT (name) DO NOTHING`,
				r.Destination); err != nil {
				return nil, 0, fmt.Errorf("sqlite: enqueue: destination %q: %w", r.Destination, err)
			}
		}
	}
	// Existing matches inside the call point at the records just
	// numbered.
	for i, j := range from {
		out[i].Record = out[j].Record
	}
	return out, len(fresh), nil
}

// existing returns the record or earlier message of the call that m
// matches: by ID first, then by destination and idempotency key.
func (s *Store) existing(ctx context.Context, tx *sql.Tx, out []delivery.Enqueued,
	batchID map[string]int, batchIdem map[idemKey]int, m *delivery.Message,
) (rec delivery.Record, batchIndex int, found bool, err error) {
	r, err := scanRecord(tx.QueryRowContext(ctx, `SELECT `+readColumns+` FROM outbox_records WHERE id = ?`, m.ID))
	if err == nil {
		return r, -1, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return delivery.Record{}, -1, false, fmt.Errorf("sqlite: enqueue: %w", err)
	}
	if i, ok := batchID[m.ID]; ok {
		return out[i].Record, i, true, nil
	}
	if m.IdempotencyKey == "" {
		return delivery.Record{}, -1, false, nil
	}
	r, err = scanRecord(tx.QueryRowContext(ctx, `SELECT `+readColumns+` FROM outbox_records WHERE destination = ? AND idempotency_key = ?`,
		m.Destination, m.IdempotencyKey))
	if err == nil {
		return r, -1, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return delivery.Record{}, -1, false, fmt.Errorf("sqlite: enqueue: %w", err)
	}
	if i, ok := batchIdem[idemKey{m.Destination, m.IdempotencyKey}]; ok {
		return out[i].Record, i, true, nil
	}
	return delivery.Record{}, -1, false, nil
}

// nextCounter reserves n values of the named counter and returns the first.
func nextCounter(ctx context.Context, tx *sql.Tx, name string, n int64) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `UPDATE outbox_counters SET value = value + ? WHERE name = ? RETURNING value`, n, name).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("sqlite: counter %s: %w", name, err)
	}
	return last - n + 1, nil
}

// insertRecord stores a new pending record.
func insertRecord(ctx context.Context, tx *sql.Tx, r *delivery.Record) error {
	headers, err := encodeHeaders(r.Headers)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox_records (`+recordColumns+`) VALUES
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, '', 0, 0, 0, 0, 0, '', '', 0, ?, 0, ?, ?)`,
		r.ID, r.Seq, r.Destination, r.Key, r.Payload, headers, r.IdempotencyKey, r.CorrelationID,
		nanos(r.CreatedAt), int64(delivery.StatePending), nanos(r.NextAttemptAt), nanos(r.UpdatedAt),
		r.TraceParent, r.TraceState)
	if err != nil {
		return fmt.Errorf("sqlite: insert record %q: %w", r.ID, err)
	}
	return nil
}
