package delivery

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// String describes the record safely: its state, attempts, schedule and
// latest attempt, then the message as Message.String shows it (no payload,
// credential-looking header values redacted). The stored error text was
// already redacted when the attempt was recorded.
func (r Record) String() string {
	var b strings.Builder
	b.WriteString("delivery.Record{State:" + r.State.String())
	b.WriteString(" Seq:" + strconv.FormatInt(r.Seq, 10))
	b.WriteString(" Attempts:" + strconv.Itoa(r.Attempts))
	if r.Deferrals > 0 {
		b.WriteString(" Deferrals:" + strconv.Itoa(r.Deferrals))
	}
	if !r.NextAttemptAt.IsZero() && (r.State == StatePending || r.State == StateInFlight) {
		b.WriteString(" NextAttemptAt:" + r.NextAttemptAt.Format(time.RFC3339Nano))
	}
	if r.State == StateInFlight {
		b.WriteString(" LeaseExpiresAt:" + r.LeaseExpiresAt.Format(time.RFC3339Nano))
	}
	if !r.LastAttempt.StartedAt.IsZero() {
		b.WriteString(" LastAttempt:{" + r.LastAttempt.Class.String())
		if r.LastAttempt.Status != 0 {
			b.WriteString(" " + strconv.Itoa(r.LastAttempt.Status))
		}
		if r.LastAttempt.Error != "" {
			b.WriteString(" " + strconv.Quote(r.LastAttempt.Error))
		}
		b.WriteByte('}')
	}
	if r.Duplicate {
		b.WriteString(" Duplicate")
	}
	b.WriteString(" " + r.Message.String() + "}")
	return b.String()
}

// Format prints String for every verb (%q quotes it), so fmt never reaches
// the payload or header values through a Record either.
func (r Record) Format(f fmt.State, verb rune) { formatAs(f, verb, r.String()) }

// LogValue makes r a log/slog group: state, seq, attempts, deferrals,
// next_attempt_at, the latest attempt's class, status and (redacted) error,
// and the message as Message.LogValue shows it.
func (r Record) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("state", r.State.String()),
		slog.Int64("seq", r.Seq),
		slog.Int("attempts", r.Attempts),
		slog.Int("deferrals", r.Deferrals),
	}
	if r.State == StatePending {
		attrs = append(attrs, slog.Time("next_attempt_at", r.NextAttemptAt))
	}
	if !r.LastAttempt.StartedAt.IsZero() {
		attrs = append(attrs, slog.String("last_class", r.LastAttempt.Class.String()),
			slog.Int("last_status", r.LastAttempt.Status), slog.String("last_error", r.LastAttempt.Error))
	}
	attrs = append(attrs, slog.Any("message", r.Message))
	return slog.GroupValue(attrs...)
}
