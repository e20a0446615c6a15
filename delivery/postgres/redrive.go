package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/delivery"
)

// Redrive implements delivery.Store. It runs in one transaction: it locks
// the records, checks that every one exists and is dead (else it changes
// nothing), gives each a new Seq in the order of ids, sets its RedrivenAt
// to now (a new delivery effort starts), counts it back into its key, and
// wakes listening dispatchers on commit.
func (s *Store) Redrive(ctx context.Context, ids ...string) (int, error) {
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !storable(id) {
			return 0, fmt.Errorf("postgres: redrive %q: %w", id, delivery.ErrNotFound)
		}
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		return 0, nil
	}
	return s.redriveTx(ctx, "redrive", func(tx pgx.Tx) ([]deadRef, error) {
		rows, err := tx.Query(ctx, s.q.lockForRedrive, uniq)
		if err != nil {
			return nil, err
		}
		found, err := collectDeadRefs(rows)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]deadRef, len(found))
		for _, r := range found {
			byID[r.id] = r
		}
		out := make([]deadRef, 0, len(uniq))
		for _, id := range uniq {
			r, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("%q: %w", id, delivery.ErrNotFound)
			}
			if st := delivery.State(r.state); st != delivery.StateDead {
				return nil, fmt.Errorf("%q: record is %s, not dead: %w", id, st, delivery.ErrInvalid)
			}
			out = append(out, r)
		}
		return out, nil
	})
}

// RedriveMatching implements delivery.Store. It works in batches of at
// most 1000 records, each its own transaction: the next matching dead
// records in Seq order, read from a partial index of dead records and
// locked with FOR UPDATE SKIP LOCKED, are moved to the back of their keys'
// queues and committed before the next batch is read, until a batch comes
// back short. So however many records match, it holds few locks at a time
// and never loads more than a batch into memory, and records are claimable
// as soon as their batch commits. Each batch wakes listening dispatchers.
//
// The records it considers are those dead when it starts (Seq up to the
// highest at the start): a record it redrives that dies again meanwhile is
// not redriven twice, and one that another redrive holds locked is skipped.
// It is not all or nothing: on an error (a failed batch, or ctx ending) it
// returns how many records the committed batches moved, with the error.
func (s *Store) RedriveMatching(ctx context.Context, f delivery.Filter) (int, error) {
	if !storable(f.Key) || !storable(f.Destination) {
		return 0, fmt.Errorf("postgres: redrive matching: filter key %q or destination %q is not valid text: %w", f.Key, f.Destination, delivery.ErrInvalid)
	}
	classes := make([]int16, 0, len(f.Classes))
	for _, c := range f.Classes {
		if !c.Valid() {
			return 0, fmt.Errorf("postgres: redrive matching: class %v: %w", c, delivery.ErrInvalid)
		}
		classes = append(classes, int16(c))
	}
	st := s.stamp()
	var before *time.Duration // NULL: no bound
	if !f.UpdatedBefore.IsZero() {
		d := st.offset(f.UpdatedBefore)
		before = &d
	}
	var ceiling int64
	if err := s.pool.QueryRow(ctx, s.q.maxSeq).Scan(&ceiling); err != nil {
		return 0, fmt.Errorf("postgres: redrive matching: %w", err)
	}
	batch := s.redriveBatch
	var after int64
	total := 0
	for {
		n, err := s.redriveTx(ctx, "redrive matching", func(tx pgx.Tx) ([]deadRef, error) {
			rows, err := tx.Query(ctx, s.q.matchDead, f.Key, f.Destination, classes, before, after, ceiling, batch, st.now)
			if err != nil {
				return nil, err
			}
			recs, err := collectDeadRefs(rows)
			if len(recs) > 0 {
				after = recs[len(recs)-1].seq
			}
			return recs, err
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < batch {
			return total, nil
		}
	}
}

// deadRef is what redrive needs to know about a locked record.
type deadRef struct {
	id, dest, key string
	state         int16
	seq           int64
}

func collectDeadRefs(rows pgx.Rows) ([]deadRef, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (deadRef, error) {
		var r deadRef
		err := row.Scan(&r.id, &r.dest, &r.key, &r.state, &r.seq)
		return r, err
	})
}

// redriveTx runs pick in a transaction to lock the dead records to move,
// then moves them to the back of their keys' queues.
func (s *Store) redriveTx(ctx context.Context, op string, pick func(pgx.Tx) ([]deadRef, error)) (int, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: begin: %w", op, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, customPlans); err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	recs, err := pick(tx)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if len(recs) == 0 {
		return 0, nil
	}

	var pairs []orderKey
	var dests []string
	for _, r := range recs {
		dests = append(dests, r.dest)
		if r.key != "" {
			pairs = append(pairs, orderKey{r.dest, r.key})
		}
	}
	pairs = sortedPairs(pairs)
	live := map[orderKey]int32{}
	if len(pairs) > 0 {
		pd, pk := splitPairs(pairs)
		rows, err := tx.Query(ctx, s.q.lockKeys, pd, pk)
		if err != nil {
			return 0, fmt.Errorf("postgres: %s: lock keys: %w", op, err)
		}
		for rows.Next() {
			var k orderKey
			var n int32
			if err := rows.Scan(&k.dest, &k.key, &n); err != nil {
				rows.Close()
				return 0, fmt.Errorf("postgres: %s: lock keys: %w", op, err)
			}
			live[k] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("postgres: %s: lock keys: %w", op, err)
		}
	}

	var seqs []int64
	if err := tx.QueryRow(ctx, s.q.nextSeqs, len(recs)).Scan(&seqs); err != nil {
		return 0, fmt.Errorf("postgres: %s: sequence: %w", op, err)
	}
	slices.Sort(seqs)

	ids := make([]string, len(recs))
	heads := make([]bool, len(recs))
	added := map[orderKey]int32{}
	for i, r := range recs {
		ids[i] = r.id
		if r.key == "" {
			heads[i] = true
			continue
		}
		k := orderKey{r.dest, r.key}
		heads[i] = live[k]+added[k] == 0
		added[k]++
	}
	b := &pgx.Batch{}
	b.Queue(s.q.addDests, dests)
	b.Queue(s.q.redrive, s.stamp().now, ids, seqs, heads)
	if len(pairs) > 0 {
		counts := make([]int32, len(pairs))
		for i, k := range pairs {
			counts[i] = added[k]
		}
		pd, pk := splitPairs(pairs)
		b.Queue(s.q.addLive, pd, pk, counts)
	}
	b.Queue(s.q.notify, s.n.Channel)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: %s: commit: %w", op, err)
	}
	return len(recs), nil
}
