package postgres

// Test hooks: the SQL of the hot paths, for EXPLAIN.

// ClaimSQLForTest returns the claim statement.
func (s *Store) ClaimSQLForTest() string { return s.q.claim }

// SettleSQLForTest returns the terminal settle statement.
func (s *Store) SettleSQLForTest() string { return s.q.settleTerminal }

// PromoteSQLForTest returns the statement that promotes a key's next head.
func (s *Store) PromoteSQLForTest() string { return s.q.promoteAfter }
