package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/delivery"
)

// asyncCommit opens a claim's batch under Config.AsyncClaimCommit: its
// transaction commits without waiting for the WAL flush. set_config(...,
// true) lasts until that transaction ends; the connection keeps the
// server's setting.
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

// Claim implements delivery.Store. It is one round trip: two statements in
// one pipelined batch, which PostgreSQL runs as one transaction, each with
// its own snapshot (READ COMMITTED), holding no lock once it returns. JIT
// compilation is off for the batch (see noJIT).
//
//   - The first locks, FOR UPDATE SKIP LOCKED, the rows of the destinations
//     whose leases must be counted (a MaxInFlight, or probing after a
//     pause) that have due records and room, and marks them with the
//     claim's token. So claims of one such destination are serialised,
//     across every process, and a claim never waits: a destination another
//     claim holds is left to it.
//   - The second, whose snapshot is taken after those locks, sees every
//     lease committed before them: it counts the destination's unexpired
//     leases again, and so never exceeds MaxInFlight, nor one probe. It
//     takes as candidates the unbounded active destinations with due
//     records plus the marked ones, least recently served first, at most
//     limit of them, takes each one's due records (pending heads of their
//     (destination, key) in due order, and records whose lease expired) up
//     to its room from partial indexes led by the destination, locked FOR
//     UPDATE SKIP LOCKED, and hands them out round by round: every
//     destination's oldest due record first, then every destination's
//     second, and so on, limit in all. The destinations served are
//     stamped as served last (round robin across claims).
//
// Paused and disabled destinations are never candidates. Records of a
// probing destination carry Probe. Its cost grows with limit and with the
// number of destinations it looks at to find limit with due work, never
// with the records waiting behind busy keys or retained as delivered.
// Under Config.AsyncClaimCommit its commit does not wait for the disk.
func (s *Store) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	if limit <= 0 || lease <= 0 {
		return nil, fmt.Errorf("postgres: claim limit %d, lease %v: %w", limit, lease, delivery.ErrInvalid)
	}
	skipped := make([]string, 0, len(skip))
	for _, d := range skip {
		if storable(d) {
			skipped = append(skipped, d)
		}
	}
	now := s.stamp().now
	token := delivery.NewToken()
	b := &pgx.Batch{}
	b.Queue(noJIT) // see plan.go
	if s.cfg.AsyncClaimCommit {
		b.Queue(asyncCommit)
	}
	b.Queue(s.q.lockDests, now, limit, token, skipped)
	var recs []delivery.Record
	b.Queue(s.q.claim, now, limit, token, lease.Truncate(time.Microsecond), skipped).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var probe bool
			r, err := scanRecord(rows, &probe)
			if err != nil {
				return err
			}
			r.Probe = probe
			s.dests.add(r.Destination)
			recs = append(recs, r)
		}
		return rows.Err()
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("postgres: claim: %w", err)
	}
	slices.SortFunc(recs, func(a, b delivery.Record) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.Seq, b.Seq))
	})
	if recs == nil {
		recs = []delivery.Record{}
	}
	return recs, nil
}
