package admin

import (
	"slices"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// RecordView is a record as the API, the page and the outbound command's
// -json output show it: no payload (its size), no header values (their
// names). Times are RFC 3339 in JSON.
type RecordView struct {
	ID            string        `json:"id"`
	Seq           int64         `json:"seq"`
	Destination   string        `json:"destination"`
	Key           string        `json:"key,omitempty"`
	State         string        `json:"state"`
	Attempts      int           `json:"attempts"`
	Deferrals     int           `json:"deferrals,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	NextAttemptAt *time.Time    `json:"next_attempt_at,omitempty"`
	RedrivenAt    *time.Time    `json:"redriven_at,omitempty"`
	Duplicate     bool          `json:"duplicate,omitempty"`
	CorrelationID string        `json:"correlation_id,omitempty"`
	Idempotency   string        `json:"idempotency_key,omitempty"`
	PayloadBytes  int           `json:"payload_bytes"`
	HeaderNames   []string      `json:"header_names,omitempty"`
	LastAttempt   *AttemptView  `json:"last_attempt,omitempty"`
	History       []AttemptView `json:"history,omitempty"`
}

// AttemptView is one attempt as the API and the page show it; Duration is
// a Go duration string ("1.5s").
type AttemptView struct {
	StartedAt time.Time `json:"started_at"`
	Duration  string    `json:"duration"`
	Status    int       `json:"status,omitempty"`
	Class     string    `json:"class"`
	Error     string    `json:"error,omitempty"`
	Response  string    `json:"response,omitempty"`
	// Channel names the channel that carried the attempt (a failover
	// set's channel); empty for a Deliverer with a single channel.
	Channel string `json:"channel,omitempty"`
}

// ViewAttempt returns a as shown.
func ViewAttempt(a delivery.Attempt) AttemptView {
	return AttemptView{StartedAt: a.StartedAt, Duration: a.Duration.String(), Status: a.Status,
		Class: a.Class.String(), Error: a.Error, Response: a.Response, Channel: a.Channel}
}

// ViewRecord returns r as shown; withHistory adds its attempt history
// (oldest first).
func ViewRecord(r *delivery.Record, withHistory bool) RecordView {
	v := RecordView{ID: r.ID, Seq: r.Seq, Destination: r.Destination, Key: r.Key, State: r.State.String(),
		Attempts: r.Attempts, Deferrals: r.Deferrals, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Duplicate: r.Duplicate, CorrelationID: r.CorrelationID, Idempotency: r.IdempotencyKey,
		PayloadBytes: len(r.Payload)}
	if r.State == delivery.StatePending {
		v.NextAttemptAt = &r.NextAttemptAt
	}
	if !r.RedrivenAt.IsZero() {
		v.RedrivenAt = &r.RedrivenAt
	}
	for name := range r.Headers {
		v.HeaderNames = append(v.HeaderNames, name)
	}
	slices.Sort(v.HeaderNames)
	if !r.LastAttempt.StartedAt.IsZero() || r.LastAttempt.Error != "" {
		a := ViewAttempt(r.LastAttempt)
		v.LastAttempt = &a
	}
	if withHistory {
		for _, a := range r.History {
			v.History = append(v.History, ViewAttempt(a))
		}
	}
	return v
}

// DestinationView is a destination as the API and the page show it.
type DestinationView struct {
	Name          string     `json:"name"`
	Status        string     `json:"status"`
	PausedUntil   *time.Time `json:"paused_until,omitempty"`
	PausedSince   *time.Time `json:"paused_since,omitempty"`
	Pauses        int        `json:"pauses,omitempty"`
	Cause         string     `json:"cause,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	MaxInFlight   int        `json:"max_in_flight,omitempty"`
	Pending       int64      `json:"pending"`
	InFlight      int64      `json:"in_flight"`
	Dead          int64      `json:"dead"`
	OldestPending string     `json:"oldest_pending,omitempty"`
}

// ViewDestination returns d as shown.
func ViewDestination(d *delivery.Destination) DestinationView {
	v := DestinationView{Name: d.Name, Status: d.Status.String(), Pauses: d.Pauses, Cause: d.Cause, Reason: d.Reason,
		MaxInFlight: d.MaxInFlight, Pending: d.Pending, InFlight: d.InFlight, Dead: d.Dead}
	if !d.PausedUntil.IsZero() {
		v.PausedUntil = &d.PausedUntil
	}
	if !d.PausedSince.IsZero() {
		v.PausedSince = &d.PausedSince
	}
	if age := d.OldestPending.Round(time.Second); age > 0 {
		v.OldestPending = age.String()
	}
	return v
}

// StatsView is delivery.Stats as the API and the page show it.
type StatsView struct {
	Counts        map[string]int64 `json:"counts"`
	OldestPending string           `json:"oldest_pending"`
	OldestDue     string           `json:"oldest_due"`
}

// ViewStats returns st as shown: counts by state name, ages as Go
// durations rounded to the second.
func ViewStats(st delivery.Stats) StatsView {
	v := StatsView{Counts: make(map[string]int64, len(delivery.States)),
		OldestPending: st.OldestPending.Round(time.Second).String(), OldestDue: st.OldestDue.Round(time.Second).String()}
	for _, s := range delivery.States {
		v.Counts[s.String()] = st.Count(s)
	}
	return v
}
