package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// An outbox written at the version before schemaTraceContext is upgraded
// in place when opened: its records are kept, untraced, and new records
// keep their trace context.
func TestOpenUpgradesToTraceContext(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	step := 0
	for i, s := range migrations {
		if &s[0] == &schemaTraceContext[0] {
			step = i
		}
	}
	require.Positive(t, step, "schemaTraceContext is a step after the first")

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE outbox_schema_version (version INTEGER NOT NULL)`)
	require.NoError(t, err)
	for _, s := range migrations[:step] {
		for _, stmt := range s {
			_, err := db.Exec(stmt)
			require.NoError(t, err)
		}
	}
	_, err = db.Exec(`INSERT INTO outbox_schema_version (version) VALUES (?)`, step)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO outbox_records (id, seq, destination, key, payload, headers, idempotency_key, correlation_id,
		created_at, state, attempts, deferrals, next_attempt_at, lease_token, lease_expires_at, last_started_at,
		last_duration, last_status, last_class, last_error, last_response, duplicate, updated_at, redriven_at)
		VALUES ('old', 1, '', '', x'7b7d', '', '', '', 1, 1, 0, 0, 1, '', 0, 0, 0, 0, 0, '', '', 0, 1, 0)`)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE outbox_counters SET value = 1 WHERE name = 'seq'`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err := Open(ctx, Config{Path: path})
	require.NoError(t, err)
	defer s.Close()
	old, err := s.Get(ctx, "old")
	require.NoError(t, err, "the record written before the upgrade is kept")
	assert.Empty(t, old.TraceParent)
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	_, err = s.Enqueue(delivery.WithTraceContext(ctx, tp, "rojo=1"), delivery.Message{ID: "new", Payload: []byte("{}")})
	require.NoError(t, err)
	got, err := s.Get(ctx, "new")
	require.NoError(t, err)
	assert.Equal(t, tp, got.TraceParent)
	assert.Equal(t, "rojo=1", got.TraceState)
}
