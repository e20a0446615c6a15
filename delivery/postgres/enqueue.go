package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/delivery"
)

// Enqueue implements delivery.Store: it stores msgs in one transaction of
// its own on the pool. See EnqueueTx for the details.
func (s *Store) Enqueue(ctx context.Context, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	prepared, given, err := s.prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	if len(prepared) == 0 {
		return []delivery.Enqueued{}, nil
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("postgres: enqueue: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	out, err := s.enqueue(ctx, pgxRunner{tx}, prepared, given)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: enqueue: commit: %w", err)
	}
	for i := range prepared {
		s.dests.add(prepared[i].Destination) // its row is committed
	}
	return out, nil
}

// EnqueueTx stores msgs in the caller's transaction tx, so the records
// commit or roll back with the caller's own writes (the transactional
// outbox). Semantics are those of delivery.Store.Enqueue: a message
// without a CorrelationID takes the one carried by ctx, messages are
// validated first (an error wraps delivery.ErrInvalid and nothing is
// written), a message whose ID, or whose Destination and non-empty
// IdempotencyKey, match a stored record or an earlier message of the call
// is returned with Existing set (or, when it is not the same message, is an
// error wrapping delivery.ErrConflict), and new records are pending and due
// now. Dispatchers are woken when tx commits, not before. After an error
// the caller must roll tx back: a conflict with a record that another
// transaction committed meanwhile is found after this call's inserts.
//
// Records with a Key lock that key's row in the keys table until tx ends,
// so other enqueues and settles of the same key wait for the caller's
// transaction; keep it short. In REPEATABLE READ or SERIALIZABLE
// transactions a concurrent change to the same key makes PostgreSQL report
// a serialization failure, which the caller handles by retrying the
// transaction as usual. On a database error the caller's transaction is
// aborted and must be rolled back.
//
// The store never begins, commits or rolls back tx: the caller does. If tx
// rolls back, nothing is enqueued and no dispatcher is woken. A nil tx is
// an error wrapping delivery.ErrInvalid; a transaction on a database where
// this store's outbox does not exist gives an error that says so.
func (s *Store) EnqueueTx(ctx context.Context, tx pgx.Tx, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	if tx == nil {
		return nil, fmt.Errorf("postgres: enqueue: nil transaction: %w", delivery.ErrInvalid)
	}
	prepared, given, err := s.prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	if len(prepared) == 0 {
		return []delivery.Enqueued{}, nil
	}
	return s.enqueue(ctx, pgxRunner{tx}, prepared, given)
}

// EnqueueSQLTx is EnqueueTx for a database/sql transaction, begun on a
// *sql.DB opened with pgx's stdlib driver (github.com/jackc/pgx/v5/stdlib)
// or lib/pq (github.com/lib/pq), so services, sqlc or sqlx code on
// database/sql enqueue in their own transaction. It runs the same
// statements as EnqueueTx, one round trip each, as database/sql cannot
// pipeline them, and has the same semantics.
//
// The store never begins, commits or rolls back tx: the caller does. If tx
// rolls back, nothing is enqueued and no dispatcher is woken (the wake-up
// is a NOTIFY, which PostgreSQL delivers at commit). A nil tx is an error
// wrapping delivery.ErrInvalid; a transaction already committed or rolled
// back gives an error wrapping sql.ErrTxDone; a transaction on a database
// where this store's outbox does not exist gives an error that says so.
// In each case nothing is enqueued.
func (s *Store) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	if tx == nil {
		return nil, fmt.Errorf("postgres: enqueue: nil transaction: %w", delivery.ErrInvalid)
	}
	prepared, given, err := s.prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	if len(prepared) == 0 {
		return []delivery.Enqueued{}, nil
	}
	return s.enqueue(ctx, sqlRunner{tx}, prepared, given)
}

// prepare validates msgs and returns the copies to store, with IDs and
// CorrelationIDs (from ctx) filled in (see delivery.PrepareMessage), and
// the IDs the caller gave (not those generated here). A zero CreatedAt
// stays zero: the insert sets it to the statement's now. It touches no
// database.
func (s *Store) prepare(ctx context.Context, msgs []delivery.Message) (prepared []delivery.Message, given []string, err error) {
	out := make([]delivery.Message, len(msgs))
	for i := range msgs {
		m, err := delivery.PrepareMessage(ctx, msgs[i])
		if err != nil {
			return nil, nil, fmt.Errorf("postgres: enqueue message %d: %w", i, err)
		}
		if msgs[i].ID != "" {
			given = append(given, m.ID)
		}
		m.CreatedAt = ts(m.CreatedAt)
		out[i] = m
	}
	return out, given, nil
}

// enqueue does the work of Enqueue and EnqueueTx in q, which must be a
// transaction. ids are the IDs the caller gave: a generated ID (delivery.NewID: a
// timestamp and 80 random bits) matches no stored record, so a message
// with one and no IdempotencyKey needs no lookup.
func (s *Store) enqueue(ctx context.Context, q txRunner, msgs []delivery.Message, ids []string) ([]delivery.Enqueued, error) {
	now := s.stamp().now

	// Round trip 1: records that already exist, and the rows of every key
	// in the call, locked in sorted order (so two calls cannot deadlock)
	// and read under the lock. A call with nothing to look up and no key
	// skips it.
	var idemDests, idems []string
	var pairs []orderKey
	for i := range msgs {
		if msgs[i].IdempotencyKey != "" {
			idemDests = append(idemDests, msgs[i].Destination)
			idems = append(idems, msgs[i].IdempotencyKey)
		}
		if msgs[i].Key != "" {
			pairs = append(pairs, orderKey{msgs[i].Destination, msgs[i].Key})
		}
	}
	pairs = sortedPairs(pairs)
	keyDests, keys := splitPairs(pairs)

	live := make(map[orderKey]int32, len(keys))
	var stored []delivery.Record
	var stmts []stmt
	if ids == nil {
		ids = []string{} // an empty array, not NULL, for the query
	}
	if len(ids) > 0 || len(idems) > 0 {
		stmts = append(stmts,
			stmt{sql: forceCustomPlans}, // see plan.go
			stmt{sql: s.q.existing, args: []any{ids, idemDests, idems}, row: appendRecord(&stored)},
			stmt{sql: restorePlans},
		)
	}
	if len(keys) > 0 {
		stmts = append(stmts, stmt{sql: s.q.lockKeys, args: []any{keyDests, keys}, row: func(row pgx.Row) error {
			var k orderKey
			var n int32
			if err := row.Scan(&k.dest, &k.key, &n); err != nil {
				return err
			}
			live[k] = n
			return nil
		}})
	}
	if len(stmts) > 0 {
		if err := q.run(ctx, stmts...); err != nil {
			return nil, s.enqueueError("look up existing records and lock keys", err)
		}
	}

	byID := make(map[string]int, len(stored))
	byIdem := make(map[idemKey]int, len(stored))
	for i := range stored {
		byID[stored[i].ID] = i
		if stored[i].IdempotencyKey != "" {
			byIdem[idemOf(&stored[i].Message)] = i
		}
	}

	// Resolve each message, in order, exactly as the contract says: a
	// stored record by id, an earlier message of this call by id, a stored
	// record by destination and idempotency key, an earlier message by
	// destination and idempotency key; else it is new. A match that is not
	// the same message is a conflict, found before anything is written.
	// The first new message of a key with no live record heads that key.
	out := make([]delivery.Enqueued, len(msgs))
	const (
		isNew = iota
		isStored
		isEarlier
	)
	kind := make([]int, len(msgs))
	ref := make([]int, len(msgs))
	batchID := map[string]int{}
	batchIdem := map[idemKey]int{}
	headTaken := map[orderKey]bool{}
	var fresh []int
	for i := range msgs {
		m := &msgs[i]
		kind[i] = isNew
		if j, ok := byID[m.ID]; ok {
			kind[i], ref[i] = isStored, j
		} else if j, ok := batchID[m.ID]; ok {
			kind[i], ref[i] = isEarlier, j
		} else if m.IdempotencyKey != "" {
			if j, ok := byIdem[idemOf(m)]; ok {
				kind[i], ref[i] = isStored, j
			} else if j, ok := batchIdem[idemOf(m)]; ok {
				kind[i], ref[i] = isEarlier, j
			}
		}
		switch kind[i] {
		case isStored:
			if err := delivery.CheckMatch(m, &stored[ref[i]].Message); err != nil {
				return nil, fmt.Errorf("postgres: enqueue message %d: %w", i, err)
			}
			continue
		case isEarlier:
			if err := delivery.CheckMatch(m, &msgs[ref[i]]); err != nil {
				return nil, fmt.Errorf("postgres: enqueue message %d: %w", i, err)
			}
			continue
		}
		if m.IdempotencyKey != "" {
			batchIdem[idemOf(m)] = i
		}
		batchID[m.ID] = i
		fresh = append(fresh, i)
	}

	// Round trip 2: insert the new records (ON CONFLICT DO NOTHING catches
	// records another transaction committed since round trip 1) and count
	// them into their keys; drop key rows this call created for nothing.
	heads := make([]bool, len(msgs))
	// The seq, creation and due times of each inserted record, by id.
	inserted := map[string]insertedRow{}
	lookups := len(ids) + len(idems) + len(keys)
	if c, ok := s.copyTarget(q, len(msgs), lookups); ok && len(fresh) == len(msgs) {
		if err := s.copyInsert(ctx, q, c, msgs, now, inserted); err != nil {
			return nil, s.enqueueError("bulk insert", err)
		}
	} else if len(fresh) > 0 {
		var (
			fids, fkeys, fdests, fcorrs []string
			ftparents, ftstates         []string
			fpayloads                   [][]byte
			fheaders, fidems            []*string
			fcreated                    = make([]*time.Time, 0, len(fresh))
			fheads                      []bool
		)
		for _, i := range fresh {
			m := &msgs[i]
			head := m.Key == ""
			if k := (orderKey{m.Destination, m.Key}); !head && live[k] == 0 && !headTaken[k] {
				head, headTaken[k] = true, true
			}
			heads[i] = head
			var hdr *string
			if len(m.Headers) > 0 {
				j, err := json.Marshal(m.Headers)
				if err != nil {
					return nil, fmt.Errorf("postgres: enqueue message %d: headers: %w", i, err)
				}
				h := string(j)
				hdr = &h
			}
			var idem *string
			if m.IdempotencyKey != "" {
				idem = &m.IdempotencyKey
			}
			fids = append(fids, m.ID)
			fkeys = append(fkeys, m.Key)
			fdests = append(fdests, m.Destination)
			fpayloads = append(fpayloads, m.Payload)
			fheaders = append(fheaders, hdr)
			fidems = append(fidems, idem)
			fcorrs = append(fcorrs, m.CorrelationID)
			fcreated = append(fcreated, nullTS(m.CreatedAt))
			fheads = append(fheads, head)
			ftparents = append(ftparents, m.TraceParent)
			ftstates = append(ftstates, m.TraceState)
		}
		stmts := []stmt{{
			sql:  s.q.insert,
			args: []any{fids, fkeys, fdests, fpayloads, fheaders, fidems, fcorrs, fcreated, fheads, now, s.dests.unknown(fdests), ftparents, ftstates},
			row: func(r pgx.Row) error {
				var id string
				var row insertedRow
				if err := r.Scan(&id, &row.seq, &row.created, &row.due); err != nil {
					return err
				}
				inserted[id] = row
				return nil
			},
		}}
		if len(keys) > 0 {
			stmts = append(stmts, stmt{sql: s.q.dropIdleKeys, args: []any{keyDests, keys}})
		}
		if err := q.run(ctx, stmts...); err != nil {
			return nil, s.enqueueError("insert", err)
		}
	}

	// A concurrent transaction may have committed a record with the same
	// id or idempotency key between the two round trips: such a message
	// was not inserted and is reported as existing. If it was meant to
	// head its key, the key's next record takes its place.
	if len(inserted) < len(fresh) {
		var lostIDs, lostDests, lostIdems []string
		var lostKeys []orderKey
		for _, i := range fresh {
			if _, ok := inserted[msgs[i].ID]; ok {
				continue
			}
			lostIDs = append(lostIDs, msgs[i].ID)
			if msgs[i].IdempotencyKey != "" {
				lostDests = append(lostDests, msgs[i].Destination)
				lostIdems = append(lostIdems, msgs[i].IdempotencyKey)
			}
			if heads[i] && msgs[i].Key != "" {
				lostKeys = append(lostKeys, orderKey{msgs[i].Destination, msgs[i].Key})
			}
		}
		more, err := s.lookupLost(ctx, q, lostIDs, lostDests, lostIdems, lostKeys)
		if err != nil {
			return nil, err
		}
		for _, r := range more {
			if _, ok := byID[r.ID]; ok {
				continue
			}
			stored = append(stored, r)
			byID[r.ID] = len(stored) - 1
			if r.IdempotencyKey != "" {
				byIdem[idemOf(&r.Message)] = len(stored) - 1
			}
		}
		for _, i := range fresh {
			if _, ok := inserted[msgs[i].ID]; ok {
				continue
			}
			j, ok := byID[msgs[i].ID]
			if !ok && msgs[i].IdempotencyKey != "" {
				j, ok = byIdem[idemOf(&msgs[i])]
			}
			if !ok {
				return nil, fmt.Errorf("postgres: enqueue: message %q was neither inserted nor found", msgs[i].ID)
			}
			// The other transaction's record may be another message: a
			// conflict. This call's inserts are in q, which the caller
			// rolls back on error (Enqueue does).
			if err := delivery.CheckMatch(&msgs[i], &stored[j].Message); err != nil {
				return nil, fmt.Errorf("postgres: enqueue message %d: %w", i, err)
			}
			kind[i], ref[i] = isStored, j
		}
	}

	for i := range msgs {
		switch kind[i] {
		case isStored:
			out[i] = delivery.Enqueued{Record: stored[ref[i]], Existing: true}
		case isEarlier:
			out[i] = delivery.Enqueued{Record: out[ref[i]].Record, Existing: true}
		default:
			row, ok := inserted[msgs[i].ID]
			if !ok {
				return nil, errors.New("postgres: enqueue: internal error: fresh message not inserted")
			}
			m := msgs[i]
			m.CreatedAt = row.created
			out[i] = delivery.Enqueued{Record: delivery.Record{
				Message: m, Seq: row.seq, State: delivery.StatePending,
				NextAttemptAt: row.due, UpdatedAt: row.due,
			}}
		}
	}
	return out, nil
}

// lookupLost reads the records that concurrent transactions committed with
// the ids or (destination, idempotency key) pairs of messages this call
// could not insert, and
// gives the keys whose designated head was among them their next head.
// Callers hold the keys' rows locked.
func (s *Store) lookupLost(ctx context.Context, q txRunner, ids, dests, idems []string, keys []orderKey) ([]delivery.Record, error) {
	var recs []delivery.Record
	stmts := []stmt{
		{sql: forceCustomPlans},
		{sql: s.q.existing, args: []any{ids, dests, idems}, row: appendRecord(&recs)},
		{sql: restorePlans},
	}
	if len(keys) > 0 {
		kd, kk := splitPairs(sortedPairs(keys))
		stmts = append(stmts, stmt{sql: s.q.promoteKeys, args: []any{kd, kk}})
	}
	if err := q.run(ctx, stmts...); err != nil {
		return nil, s.enqueueError("read concurrent duplicates and promote", err)
	}
	return recs, nil
}

// appendRecord returns a row handler that appends each row of
// recordColumns to out.
func appendRecord(out *[]delivery.Record) func(pgx.Row) error {
	return func(row pgx.Row) error {
		r, err := scanRecord(row)
		if err != nil {
			return err
		}
		*out = append(*out, r)
		return nil
	}
}

// enqueueError wraps err from the enqueue statements' step. A missing
// schema or table means the transaction is on a database where this
// store's outbox does not exist (another database, or one not migrated),
// which the error says.
func (s *Store) enqueueError(step string, err error) error {
	var st interface{ SQLState() string }
	if errors.As(err, &st) && (st.SQLState() == "42P01" || st.SQLState() == "3F000") {
		return fmt.Errorf("postgres: enqueue: the outbox %s does not exist in the transaction's database (a transaction on another database, or Migrate has not run there): %w", s.Name(), err)
	}
	return fmt.Errorf("postgres: enqueue: %s: %w", step, err)
}

// idemKey is what idempotency is scoped to: a receiver recognises resends
// of its own messages, so one key may stand for one record per
// destination (the unique index on destination and idempotency_key).
type idemKey struct{ destination, key string }

func idemOf(m *delivery.Message) idemKey { return idemKey{m.Destination, m.IdempotencyKey} }
