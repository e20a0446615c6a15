package postgres

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// recordColumns lists the columns scanRecord reads, in its order.
const recordColumns = `id, seq, key, destination, payload, headers, idempotency_key, correlation_id,
	created_at, state, attempts, deferrals, next_attempt_at, lease_token, lease_expires_at,
	last_started_at, last_duration_ns, last_status, last_class, last_error, duplicate, updated_at, redriven_at,
	last_response, trace_parent, trace_state, history`

// scanRecord reads one row of recordColumns, then the extra columns into
// extra.
func scanRecord(row pgx.Row, extra ...any) (delivery.Record, error) {
	var (
		r                        delivery.Record
		idem, token              *string
		leaseExp, lastStart      *time.Time
		redriven                 *time.Time
		state, lastClass         int16
		attempts, deferrals, sts int32
		durNS                    int64
		headers                  map[string]string
		history                  []byte
	)
	err := row.Scan(append([]any{&r.ID, &r.Seq, &r.Key, &r.Destination, &r.Payload, &headers, &idem, &r.CorrelationID,
		&r.CreatedAt, &state, &attempts, &deferrals, &r.NextAttemptAt, &token, &leaseExp,
		&lastStart, &durNS, &sts, &lastClass, &r.LastAttempt.Error, &r.Duplicate, &r.UpdatedAt, &redriven,
		&r.LastAttempt.Response, &r.TraceParent, &r.TraceState, &history}, extra...)...)
	if err != nil {
		return delivery.Record{}, err
	}
	if r.History, err = delivery.DecodeHistory(history); err != nil {
		return delivery.Record{}, fmt.Errorf("postgres: record %q: %w", r.ID, err)
	}
	if len(headers) > 0 {
		r.Headers = headers
	}
	if idem != nil {
		r.IdempotencyKey = *idem
	}
	if token != nil {
		r.LeaseToken = *token
	}
	if leaseExp != nil {
		r.LeaseExpiresAt = *leaseExp
	}
	if lastStart != nil {
		r.LastAttempt.StartedAt = *lastStart
	}
	if redriven != nil {
		r.RedrivenAt = *redriven
	}
	r.State = delivery.State(state)
	r.Attempts = int(attempts)
	r.Deferrals = int(deferrals)
	r.LastAttempt.Duration = time.Duration(durNS)
	r.LastAttempt.Status = int(sts)
	r.LastAttempt.Class = classify.Class(lastClass)
	r.LastAttempt.Channel = delivery.LastChannel(r.LastAttempt, r.History) // no column of its own
	return r, nil
}

// collectRecords reads every row of recordColumns from rows.
func collectRecords(rows pgx.Rows) ([]delivery.Record, error) {
	defer rows.Close()
	var out []delivery.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ts prepares a time for a timestamptz column: PostgreSQL keeps
// microseconds, so the store truncates rather than let the driver round,
// and the value it returns equals what a later read gives back.
func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// nullTS is ts for nullable columns: the zero time is NULL.
func nullTS(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = ts(t)
	return &t
}

// storable reports whether s can be a text value: valid UTF-8 without NUL
// bytes. Lookups by text that cannot be stored cannot match anything, and
// are answered without asking the server (which would reject them).
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
