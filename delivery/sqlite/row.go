package sqlite

import (
	"encoding/json"
	"fmt"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// recordColumns are the columns of a record an insert writes.
const recordColumns = `id, seq, destination, key, payload, headers, idempotency_key, correlation_id,
	created_at, state, attempts, deferrals, next_attempt_at, lease_token, lease_expires_at,
	last_started_at, last_duration, last_status, last_class, last_error, last_response,
	duplicate, updated_at, redriven_at, trace_parent, trace_state`

// readColumns are the columns scanRecord reads, in its order.
const readColumns = recordColumns + `, history`

// claimColumns are readColumns without the history, which a worker does
// not read and may be tens of kilobytes a record.
const claimColumns = recordColumns + `, '[]'`

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// scanRecord reads one row of readColumns (or claimColumns).
func scanRecord(sc scanner) (delivery.Record, error) {
	var (
		r                                                  delivery.Record
		headers                                            string
		created, next, leaseExp, started, updated, redrive int64
		dur                                                int64
		state, class                                       int64
		dup                                                bool
		history                                            string
	)
	err := sc.Scan(&r.ID, &r.Seq, &r.Destination, &r.Key, &r.Payload, &headers, &r.IdempotencyKey, &r.CorrelationID,
		&created, &state, &r.Attempts, &r.Deferrals, &next, &r.LeaseToken, &leaseExp,
		&started, &dur, &r.LastAttempt.Status, &class, &r.LastAttempt.Error, &r.LastAttempt.Response,
		&dup, &updated, &redrive, &r.TraceParent, &r.TraceState, &history)
	if err != nil {
		return delivery.Record{}, err
	}
	if r.History, err = delivery.DecodeHistory([]byte(history)); err != nil {
		return delivery.Record{}, fmt.Errorf("sqlite: record %q: %w", r.ID, err)
	}
	if headers != "" {
		if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
			return delivery.Record{}, fmt.Errorf("sqlite: record %q: headers: %w", r.ID, err)
		}
	}
	r.CreatedAt = fromNanos(created)
	r.State = delivery.State(state)
	r.NextAttemptAt = fromNanos(next)
	r.LeaseExpiresAt = fromNanos(leaseExp)
	r.LastAttempt.StartedAt = fromNanos(started)
	r.LastAttempt.Duration = timeDuration(dur)
	r.LastAttempt.Class = classify.Class(class)
	r.LastAttempt.Channel = delivery.LastChannel(r.LastAttempt, r.History) // no column of its own
	r.Duplicate = dup
	r.UpdatedAt = fromNanos(updated)
	r.RedrivenAt = fromNanos(redrive)
	return r, nil
}

// encodeHeaders encodes h as JSON, "" for none.
func encodeHeaders(h map[string]string) (string, error) {
	if len(h) == 0 {
		return "", nil
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("sqlite: headers: %w", err)
	}
	return string(b), nil
}
