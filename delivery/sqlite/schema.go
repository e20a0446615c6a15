package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SchemaVersion is the schema version this package writes and reads: the
// number of steps in migrations.
const SchemaVersion = 4

// ErrNewerSchema means the database was written by a newer version of this
// package; Open refuses it rather than misread it.
var ErrNewerSchema = errors.New("sqlite: database schema is newer than this package")

// schemaV1 creates the outbox. Times are unix nanoseconds, 0 for none.
var schemaV1 = []string{
	`CREATE TABLE outbox_records (
		id TEXT PRIMARY KEY,
		seq INTEGER NOT NULL UNIQUE,
		destination TEXT NOT NULL,
		key TEXT NOT NULL,
		payload BLOB NOT NULL,
		headers TEXT NOT NULL,
		idempotency_key TEXT NOT NULL,
		correlation_id TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		state INTEGER NOT NULL,
		attempts INTEGER NOT NULL,
		deferrals INTEGER NOT NULL,
		next_attempt_at INTEGER NOT NULL,
		lease_token TEXT NOT NULL,
		lease_expires_at INTEGER NOT NULL,
		last_started_at INTEGER NOT NULL,
		last_duration INTEGER NOT NULL,
		last_status INTEGER NOT NULL,
		last_class INTEGER NOT NULL,
		last_error TEXT NOT NULL,
		last_response TEXT NOT NULL,
		duplicate INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		redriven_at INTEGER NOT NULL
	)`,
	`CREATE UNIQUE INDEX outbox_records_idempotency ON outbox_records (destination, idempotency_key) WHERE idempotency_key <> ''`,
	`CREATE INDEX outbox_records_due ON outbox_records (destination, state, next_attempt_at, seq)`,
	`CREATE INDEX outbox_records_state ON outbox_records (state, next_attempt_at)`,
	`CREATE INDEX outbox_records_leases ON outbox_records (lease_expires_at) WHERE state = 2`,
	`CREATE INDEX outbox_records_key_live ON outbox_records (destination, key, seq) WHERE state IN (1, 2)`,
	`CREATE INDEX outbox_records_finished ON outbox_records (updated_at, seq) WHERE state IN (3, 5)`,
	`CREATE TABLE outbox_destinations (
		name TEXT PRIMARY KEY,
		paused_until INTEGER NOT NULL DEFAULT 0,
		paused_since INTEGER NOT NULL DEFAULT 0,
		pauses INTEGER NOT NULL DEFAULT 0,
		disabled INTEGER NOT NULL DEFAULT 0,
		cause TEXT NOT NULL DEFAULT '',
		reason TEXT NOT NULL DEFAULT '',
		max_in_flight INTEGER NOT NULL DEFAULT 0,
		changed_at INTEGER NOT NULL DEFAULT 0,
		stateful INTEGER NOT NULL DEFAULT 0,
		served INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE outbox_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
	`INSERT INTO outbox_counters (name, value) VALUES ('seq', 0), ('round', 0)`,
}

// schemaTraceContext adds the W3C trace context of the enqueuing request
// (delivery.Message.TraceParent and TraceState); empty means untraced.
var schemaTraceContext = []string{
	`ALTER TABLE outbox_records ADD COLUMN trace_parent TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE outbox_records ADD COLUMN trace_state TEXT NOT NULL DEFAULT ''`,
}

// schemaRates adds each destination's fleet-wide rate limit: its rate (per
// second, 0 for none), burst, and GCRA theoretical arrival time (unix
// nanoseconds, 0 when never used).
var schemaRates = []string{
	`ALTER TABLE outbox_destinations ADD COLUMN rate REAL NOT NULL DEFAULT 0`,
	`ALTER TABLE outbox_destinations ADD COLUMN burst INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE outbox_destinations ADD COLUMN rate_tat INTEGER NOT NULL DEFAULT 0`,
}

// schemaHistory keeps each record's attempt history (Record.History): a
// JSON array of delivery.EncodeAttempt objects, oldest first, appended and
// trimmed by the statement that settles an attempt.
var schemaHistory = []string{
	`ALTER TABLE outbox_records ADD COLUMN history TEXT NOT NULL DEFAULT '[]'`,
}

// migrations holds the schema's steps: version v is migrations[v-1],
// applied in order to a database at an older version, all in one
// transaction. A new version appends a step (and raises SchemaVersion); a
// released step never changes.
var migrations = [][]string{schemaV1, schemaTraceContext, schemaRates, schemaHistory}

// migrate creates the schema in an empty database, checks the version of
// an existing one, and fails on a newer one without touching it.
func (s *Store) migrate(ctx context.Context) error {
	// Not inTx: its first write needs the tables this creates. The first
	// statement here writes when the schema is missing.
	err := runTx(ctx, s.db, nil, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS outbox_schema_version (version INTEGER NOT NULL)`); err != nil {
			return err
		}
		var v sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM outbox_schema_version`).Scan(&v); err != nil {
			return err
		}
		switch {
		case v.Int64 > SchemaVersion:
			return fmt.Errorf("%w: %q has version %d, this package knows up to %d; use a newer release",
				ErrNewerSchema, s.path, v.Int64, SchemaVersion)
		case v.Int64 == SchemaVersion:
			return nil
		}
		if len(migrations) != SchemaVersion {
			return fmt.Errorf("sqlite: %d migration steps for schema version %d", len(migrations), SchemaVersion)
		}
		for i, step := range migrations[v.Int64:] {
			for _, stmt := range step {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("schema version %d: %w", int(v.Int64)+i+1, err)
				}
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox_schema_version (version) VALUES (?)`, SchemaVersion)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNewerSchema) {
			return err
		}
		return fmt.Errorf("sqlite: open %q: %w", s.path, err)
	}
	return nil
}
