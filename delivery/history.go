package delivery

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// History bounds the attempt history a store keeps on each record
// (Record.History): the latest attempts, oldest dropped first, within a
// count and a size. Each store's Config has one; the zero value means the
// defaults (DefaultHistoryAttempts, DefaultHistoryBytes).
//
// The newest attempt is always kept while MaxAttempts allows any, so a
// record's history ends with its LastAttempt.
type History struct {
	// MaxAttempts is how many attempts a record keeps. Zero means
	// DefaultHistoryAttempts; negative keeps no history at all.
	MaxAttempts int
	// MaxBytes bounds the size of a record's history, counted with
	// AttemptSize. Zero means DefaultHistoryBytes; negative means no bound
	// but MaxAttempts (each attempt's texts are bounded anyway, by
	// MaxErrorText and MaxResponseText).
	MaxBytes int
}

// Defaults for the zero values of History.
const (
	DefaultHistoryAttempts = 10
	DefaultHistoryBytes    = 32 << 10
)

// AttemptOverhead is what an attempt counts towards History.MaxBytes
// beyond its Error and Response texts: its time, duration, status and
// class as a store encodes them.
const AttemptOverhead = 64

// AttemptSize returns what a counts towards History.MaxBytes: the bytes of
// its Error and Response plus AttemptOverhead. SQL stores compute the same
// figure from their encoded history (the "error" and "response" members).
func AttemptSize(a Attempt) int { return len(a.Error) + len(a.Response) + AttemptOverhead }

// WithDefaults returns h with its zero fields set to the defaults, a
// negative MaxAttempts as 0 (no history) and a negative MaxBytes as the
// largest int (no size bound). Every History is valid.
func (h History) WithDefaults() History {
	if h.MaxAttempts == 0 {
		h.MaxAttempts = DefaultHistoryAttempts
	}
	if h.MaxAttempts < 0 {
		h.MaxAttempts = 0
	}
	switch {
	case h.MaxBytes == 0:
		h.MaxBytes = DefaultHistoryBytes
	case h.MaxBytes < 0:
		h.MaxBytes = math.MaxInt
	}
	return h
}

// Append returns hist with a appended and the oldest attempts dropped until
// it holds at most h.MaxAttempts attempts of at most h.MaxBytes in all
// (the newest is kept whatever its size). h must have its defaults set
// (WithDefaults). The result is a new slice; hist is not changed.
func (h History) Append(hist []Attempt, a Attempt) []Attempt {
	if h.MaxAttempts <= 0 {
		return nil
	}
	keep, size := 1, AttemptSize(a)
	for i := len(hist) - 1; i >= 0 && keep < h.MaxAttempts; i-- {
		size += AttemptSize(hist[i])
		if size > h.MaxBytes || size < 0 {
			break
		}
		keep++
	}
	out := make([]Attempt, 0, keep)
	out = append(out, hist[len(hist)-(keep-1):]...)
	return append(out, a)
}

// storedAttempt is how SQL stores encode one attempt of a history, as a
// JSON object. The "error" and "response" members are what their SQL
// reads to bound a history's size; renaming them needs a migration.
type storedAttempt struct {
	StartedAt time.Time `json:"started_at"`
	Duration  int64     `json:"duration_ns"`
	Status    int       `json:"status,omitempty"`
	Class     int       `json:"class"`
	Error     string    `json:"error"`
	Response  string    `json:"response"`
	Channel   string    `json:"channel,omitempty"`
}

// EncodeAttempt returns a as the JSON object a SQL store appends to a
// record's stored history (see DecodeHistory). Its Channel is the member
// "channel", left out when empty.
func EncodeAttempt(a Attempt) []byte {
	b, err := json.Marshal(storedAttempt{StartedAt: a.StartedAt, Duration: int64(a.Duration),
		Status: a.Status, Class: int(a.Class), Error: a.Error, Response: a.Response, Channel: a.Channel})
	if err != nil {
		// Only strings, numbers and a time: json.Marshal cannot fail on
		// them but for a time outside years 0..9999, which no clock gives.
		b, _ = json.Marshal(storedAttempt{Duration: int64(a.Duration), Status: a.Status,
			Class: int(a.Class), Error: a.Error, Response: a.Response, Channel: a.Channel})
	}
	return b
}

// DecodeHistory reads a history a SQL store kept as a JSON array of
// EncodeAttempt objects, oldest first. Empty input is no history; an
// entry without "channel" (written before attempts had one) has an empty
// Channel. It returns an error for anything else.
func DecodeHistory(b []byte) ([]Attempt, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var stored []storedAttempt
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("delivery: decode attempt history: %w", err)
	}
	if len(stored) == 0 {
		return nil, nil
	}
	out := make([]Attempt, len(stored))
	for i, s := range stored {
		out[i] = Attempt{StartedAt: s.StartedAt, Duration: time.Duration(s.Duration), Status: s.Status,
			Class: classify.Class(s.Class), Error: s.Error, Response: s.Response, Channel: s.Channel}
	}
	return out, nil
}

// LastChannel returns the Channel of the newest attempt of hist when that
// attempt is last (the same time, duration, status, class and texts), and
// "" otherwise. SQL stores, which keep an attempt's channel only in the
// history, fill a record's LastAttempt.Channel with it; an attempt that
// is not the newest in the history (an operator's cancel rewrites the
// last attempt without one) gets none.
func LastChannel(last Attempt, hist []Attempt) string {
	if len(hist) == 0 {
		return ""
	}
	h := hist[len(hist)-1]
	if h.StartedAt.Equal(last.StartedAt) && h.Duration == last.Duration && h.Status == last.Status &&
		h.Class == last.Class && h.Error == last.Error && h.Response == last.Response {
		return h.Channel
	}
	return ""
}
