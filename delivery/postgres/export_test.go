package postgres

import "context"

// Test hooks: the SQL of the hot paths, for EXPLAIN.

// ClaimSQLForTest returns the claim statement.
func (s *Store) ClaimSQLForTest() string { return s.q.claim }

// SettleSQLForTest returns the terminal settle statement.
func (s *Store) SettleSQLForTest() string { return s.q.settleTerminal }

// NextDueSQLForTest returns the NextDue statement.
func (s *Store) NextDueSQLForTest() string { return s.q.nextDue }

// PromoteSQLForTest returns the statement that promotes a key's next head.
func (s *Store) PromoteSQLForTest() string { return s.q.promoteAfter }

// MigrateToForTest applies the migrations up to version v only, to build
// an outbox as an older release left it.
func (s *Store) MigrateToForTest(ctx context.Context, v int) error { return s.migrate(ctx, v) }

// LatestSchemaVersionForTest returns the highest embedded migration version.
func (s *Store) LatestSchemaVersionForTest() int { return s.migrations[len(s.migrations)-1].version }

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
