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
// A batch of at least defaultCopyMin new messages that need no lookup (no ID from
// the caller, no IdempotencyKey, no Key) cannot match a stored record or
// an earlier message, and every one heads nothing but itself. Enqueue and
// EnqueueTx write such a batch with COPY FROM instead of an INSERT over
// unnested arrays: one round trip draws the batch's sequence values, reads
// the statement's now and adds destinations not yet known, then COPY
// writes the rows. The records, the Enqueued results, the insert trigger's
// wake-up (COPY fires it like an INSERT) and the destinations' rows are
// exactly what the INSERT would have written; only the time per record
// differs. EnqueueSQLTx cannot COPY through database/sql and always
// inserts.

// defaultCopyMin is the smallest batch written with COPY (Store.copyMin):
// below it the round trip COPY adds (pgx reads the table's column types
// first) costs more than COPY saves.
const defaultCopyMin = 64

// copyColumns are the columns COPY writes, in the order of copyRow's
// values; the others take their defaults, as they do for the INSERT.
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

// copyTarget returns the transaction to COPY msgs into, or false when they
// must be inserted: too few, one needs a lookup or heads a key, or q is not
// a pgx transaction.
func (s *Store) copyTarget(q txRunner, msgs []delivery.Message, callerIDs int) (copier, bool) {
	if len(msgs) < s.copyMin || callerIDs > 0 {
		return nil, false
	}
	for i := range msgs {
		if msgs[i].IdempotencyKey != "" || msgs[i].Key != "" {
			return nil, false
		}
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
		{sql: s.q.seqBlock, args: []any{len(msgs)}, row: func(r pgx.Row) error { return r.Scan(&seqs) }},
		{sql: s.q.statementNow, args: []any{now}, row: func(r pgx.Row) error { return r.Scan(&at) }},
	}
	if unknown := s.dests.unknown(dests); len(unknown) > 0 {
		stmts = append(stmts, stmt{sql: s.q.addDests, args: []any{unknown}})
	}
	if err := q.run(ctx, stmts...); err != nil {
		return err
	}
	if len(seqs) != len(msgs) {
		return fmt.Errorf("drew %d sequence values for %d records", len(seqs), len(msgs))
	}
	slices.Sort(seqs) // queue order is the messages' order
	rows := make([][]any, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		var headers any // NULL when there are none, as the INSERT writes
		if len(m.Headers) > 0 {
			j, err := json.Marshal(m.Headers)
			if err != nil {
				return fmt.Errorf("message %d: headers: %w", i, err)
			}
			headers = string(j)
		}
		created := m.CreatedAt
		if created.IsZero() {
			created = at
		}
		rows[i] = []any{m.ID, seqs[i], "", m.Destination, m.Payload, headers, nil,
			m.CorrelationID, created, int16(delivery.StatePending), true, at, at, m.TraceParent, m.TraceState}
		inserted[m.ID] = insertedRow{seq: seqs[i], created: created, due: at}
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{s.n.schema, s.n.table}, copyColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return err
	}
	if n != int64(len(msgs)) {
		return fmt.Errorf("copied %d rows of %d", n, len(msgs))
	}
	s.copies.Add(1)
	return nil
}
