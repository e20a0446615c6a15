package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/delivery"
)

// Bulk enqueue with COPY.
//
// A batch of at least defaultCopyMin new messages that need no lookup (no
// ID from the caller, no IdempotencyKey, no Key) cannot match a stored
// record or an earlier message, and every one heads nothing but itself.
// Enqueue and EnqueueTx write such a batch with COPY FROM instead of an
// INSERT over unnested arrays: one round trip draws the batch's sequence
// values, reads the statement's now and adds destinations not yet known,
// then COPY writes the rows. The records, the Enqueued results, the insert
// trigger's wake-up (COPY fires it like an INSERT) and the destinations'
// rows are exactly what the INSERT would have written (a test compares
// every column); only the time per record differs. EnqueueSQLTx cannot
// COPY through database/sql and always inserts.

// defaultCopyMin is the smallest batch written with COPY (Store.copyMin).
// COPY takes one more round trip than an INSERT that needs no lookup (the
// Seq values are drawn before the rows are sent; pgx also reads the
// table's column types on a connection's first COPY, or on every one
// without a statement cache), and
// below about this size that costs what COPY saves: BenchmarkEnqueueBulk
// measured 1.10-1.14x the INSERT's records/s at 64, 1.37x at 1,000.
const defaultCopyMin = 64

// copyColumns are the columns COPY writes, in the order of
// copyRows.Values; the others take their defaults, as they do for the
// INSERT.
var copyColumns = []string{"id", "seq", "key", "destination", "payload", "headers", "idempotency_key",
	"correlation_id", "created_at", "state", "is_head", "next_attempt_at", "updated_at", "trace_parent", "trace_state"}

// copier is a transaction that can COPY: a pgx.Tx.
type copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// insertedRow is what the database assigned to an inserted record: its
// seq, and its creation and due times.
type insertedRow struct {
	seq          int64
	created, due time.Time
}

// copyTarget returns the transaction to COPY a batch of n messages into,
// or false when they must be inserted: too few, lookups of them (caller
// IDs, idempotency keys, ordering keys) to make, or q is not a pgx
// transaction.
func (s *Store) copyTarget(q txRunner, n, lookups int) (copier, bool) {
	if n < s.copyMin || lookups > 0 {
		return nil, false
	}
	r, ok := q.(pgxRunner)
	if !ok {
		return nil, false
	}
	c, ok := r.q.(copier)
	return c, ok
}

// copyInsert writes msgs, all new, unkeyed and with generated IDs, with
// COPY in q's transaction c, and records what each was assigned in
// inserted. now is the caller's clock, or nil for the database's.
func (s *Store) copyInsert(ctx context.Context, q txRunner, c copier, msgs []delivery.Message, now *time.Time, inserted map[string]insertedRow) error {
	var seqs []int64
	var at time.Time
	dests := make([]string, len(msgs))
	for i := range msgs {
		dests[i] = msgs[i].Destination
	}
	stmts := []stmt{
		{sql: s.q.nextSeqs, args: []any{len(msgs)}, row: func(r pgx.Row) error { return r.Scan(&seqs) }},
		{sql: s.q.statementNow, args: []any{now}, row: func(r pgx.Row) error { return r.Scan(&at) }},
	}
	if unknown := s.dests.unknown(dests); len(unknown) > 0 {
		stmts = append(stmts, stmt{sql: s.q.addDests, args: []any{unknown}})
	}
	if err := q.run(ctx, stmts...); err != nil {
		return fmt.Errorf("draw sequence values: %w", err)
	}
	if len(seqs) != len(msgs) {
		return fmt.Errorf("drew %d sequence values for %d records", len(seqs), len(msgs))
	}
	slices.Sort(seqs) // queue order is the messages' order
	src := &copyRows{msgs: msgs, seqs: seqs, at: at, created: make([]time.Time, len(msgs)), headers: make([]any, len(msgs))}
	for i := range msgs {
		m := &msgs[i]
		if len(m.Headers) > 0 { // else NULL, as the INSERT writes
			j, err := json.Marshal(m.Headers)
			if err != nil {
				return fmt.Errorf("message %d: headers: %w", i, err)
			}
			src.headers[i] = string(j)
		}
		// In the location a time read back from the database has, as
		// the INSERT's RETURNING gives it.
		src.created[i] = m.CreatedAt.In(at.Location())
		if m.CreatedAt.IsZero() {
			src.created[i] = at
		}
		inserted[m.ID] = insertedRow{seq: seqs[i], created: src.created[i], due: at}
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{s.n.schema, s.n.table}, copyColumns, src)
	if err != nil {
		return err
	}
	if n != int64(len(msgs)) {
		return fmt.Errorf("copied %d rows of %d", n, len(msgs))
	}
	s.copies.Add(1)
	return nil
}

// copyRows is the COPY source of a bulk batch, in copyColumns' order. pgx
// encodes a row before it asks for the next, so one row buffer serves
// them all, and the values every row shares are boxed once.
type copyRows struct {
	msgs    []delivery.Message
	seqs    []int64
	created []time.Time
	headers []any // JSON text, or nil for none
	at      any   // the statement's now, a time.Time: due and updated
	next    int
	row     [15]any
}

// Next implements pgx.CopyFromSource.
func (c *copyRows) Next() bool {
	c.next++
	return c.next <= len(c.msgs)
}

// Values implements pgx.CopyFromSource.
func (c *copyRows) Values() ([]any, error) {
	i := c.next - 1
	m := &c.msgs[i]
	c.row = [15]any{m.ID, c.seqs[i], "", m.Destination, m.Payload, c.headers[i], nil,
		m.CorrelationID, c.created[i], int16(delivery.StatePending), true, c.at, c.at, m.TraceParent, m.TraceState}
	return c.row[:], nil
}

// Err implements pgx.CopyFromSource: building the rows cannot fail.
func (c *copyRows) Err() error { return nil }
