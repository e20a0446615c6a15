package postgres

import (
	"context"
	"time"
)

// Test hooks: the SQL of the hot paths, for EXPLAIN.

// ClaimSQLForTest returns the claim statement: $1 now, $2 limit, $3
// token, $4 lease, $5 destinations skipped.
func (s *Store) ClaimSQLForTest() string { return s.q.claim }

// LockDestinationsSQLForTest returns the statement that runs before the
// claim in its batch and locks the destinations whose leases it counts:
// $1 now, $2 limit, $3 token, $4 destinations skipped.
func (s *Store) LockDestinationsSQLForTest() string { return s.q.lockDests }

// SettleSQLForTest returns the terminal settle statement.
func (s *Store) SettleSQLForTest() string { return s.q.settleTerminal }

// SettleManySQLForTest returns the statement that settles a flush's
// terminal settles at once: settleTerminal's parameters as arrays.
func (s *Store) SettleManySQLForTest() string { return s.q.settleTerminalMany }

// PromoteManySQLForTest returns the promotion after SettleManySQLForTest:
// $1 the ids.
func (s *Store) PromoteManySQLForTest() string { return s.q.promoteAfterMany }

// NextDueSQLForTest returns the NextDue statement.
func (s *Store) NextDueSQLForTest() string { return s.q.nextDue }

// ListSQLForTest returns the List statement: $1 Seq after, $2 state (0
// for any), $3 key, $4 limit, $5 destination, $6 and $7 updated_at bounds
// from now, $8 error text, $9 now.
func (s *Store) ListSQLForTest() string { return s.q.list }

// PromoteSQLForTest returns the statement that promotes a key's next head:
// $1 the settled record's id.
func (s *Store) PromoteSQLForTest() string { return s.q.promoteAfter }

// MigrateToForTest applies the migrations up to version v only, to build
// an outbox as an older release left it.
func (s *Store) MigrateToForTest(ctx context.Context, v int) error { return s.migrate(ctx, v) }

// LatestSchemaVersionForTest returns the highest embedded migration version.
func (s *Store) LatestSchemaVersionForTest() int { return s.migrations[len(s.migrations)-1].version }

// MigrationCountForTest returns how many migrations are embedded, the rows
// a fully migrated outbox has in its migrations table.
func (s *Store) MigrationCountForTest() int { return len(s.migrations) }

// SetRedriveBatchForTest sets how many records RedriveMatching moves per
// transaction.
func (s *Store) SetRedriveBatchForTest(n int) { s.redriveBatch = n }

// SetExactSettledMaxForTest sets how many delivered and discarded records
// Stats counts exactly before it estimates.
func (s *Store) SetExactSettledMaxForTest(n int) {
	s.exactSettledMax = n
	s.q.stats = statsQuery(s.n, n)
}

// StatsSQLForTest returns the Stats statement.
func (s *Store) StatsSQLForTest() string { return s.q.stats }

// GroupCommitStatsForTest returns how many flushes group commit sent, how
// many settles they held, and how many of them failed.
func (s *Store) GroupCommitStatsForTest() (flushes, settles, failed int64) {
	return s.gc.flushes.Load(), s.gc.flushed.Load(), s.gc.failed.Load()
}

// TerminalBatchesForTest returns how many statements settled several
// terminal settles of one flush at once, and how many settles they held.
func (s *Store) TerminalBatchesForTest() (statements, settles int64) {
	return s.gc.manyStatements.Load(), s.gc.manySettles.Load()
}

// InjectIntoFlushForTest queues sql in the middle of every flush: after
// the own statements of the settles before index len/2, before those of
// the rest, and before the flush's terminal settles when they go together
// (after all the others). Call it before the store is used.
func (s *Store) InjectIntoFlushForTest(sql string) { s.gc.inject = sql }

// InjectAtFlushEndForTest queues sql at the end of every flush, after
// every settle's statements. Call it before the store is used.
func (s *Store) InjectAtFlushEndForTest(sql string) { s.gc.injectLast = sql }

// BeforeFlushForTest makes every flush call f before it is sent. Call it
// before the store is used.
func (s *Store) BeforeFlushForTest(f func()) { s.gc.beforeFlush = f }

// QueuedForTest returns how many settles wait for a flush.
func (s *Store) QueuedForTest() int {
	s.gc.mu.Lock()
	defer s.gc.mu.Unlock()
	return len(s.gc.queue)
}

// SetCallerClockForTest replaces the clock the store reads as its caller's
// (time.Now when Config.Now is unset): a host whose clock is off. Call it
// before the store is used.
func (s *Store) SetCallerClockForTest(now func() time.Time) { s.now = now }

// CopiedBatchesForTest returns how many enqueue batches were written with
// COPY rather than INSERT.
func (s *Store) CopiedBatchesForTest() int64 { return s.copies.Load() }

// CopyMinForTest is the smallest batch Enqueue writes with COPY.
const CopyMinForTest = defaultCopyMin

// SetCopyMinForTest sets the smallest batch Enqueue writes with COPY.
func (s *Store) SetCopyMinForTest(n int) { s.copyMin = n }
