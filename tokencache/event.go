package tokencache

import (
	"log/slog"
	"time"

	"github.com/outbound-go/outbound/internal/redact"
)

// EventKind says what happened in an Event.
type EventKind uint8

// The events a Cache reports through Config.OnEvent.
const (
	// EventMinted: this process minted a new token. Expiry is set.
	EventMinted EventKind = iota + 1
	// EventMintFailed: the Source failed, or returned an unusable token.
	// Err is set. Further refreshes wait out a growing backoff.
	EventMintFailed
	// EventShared: a refresh found a fresh token in the Store, minted by
	// another process (or an earlier run). Expiry is set.
	EventShared
	// EventLockTimeout: the mint lock stayed taken for 2*LockTTL +
	// MintTimeout while the store kept answering (a store that never
	// grants its lock, or holders that crash one after another), so this
	// process minted without it. Duration is how long it waited.
	EventLockTimeout
	// EventStoreError: a Store operation failed. Op and Err are set. The
	// cache carries on without the store (it fails open: it mints and
	// serves a token rather than stop sending), so watch this event.
	EventStoreError
	// EventInvalidated: Invalidate removed the cached token. Expiry is the
	// rejected token's expiry.
	EventInvalidated
)

var eventNames = [...]string{
	EventMinted:      "minted",
	EventMintFailed:  "mint_failed",
	EventShared:      "shared",
	EventLockTimeout: "lock_timeout",
	EventStoreError:  "store_error",
	EventInvalidated: "invalidated",
}

// String returns the event's name in snake case ("minted", "store_error"),
// or "unknown".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event is something a Cache did, for logs and metrics. It never carries a
// token value.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Key is the cache's store key.
	Key string
	// Op is the Store operation that failed ("load", "save", "lock",
	// "unlock", "delete"), for EventStoreError.
	Op string
	// Expiry is the expiry of the token involved, if any.
	Expiry time.Time
	// Duration is how long the step took: the mint for EventMinted and
	// EventMintFailed, the wait for the lock for EventLockTimeout.
	Duration time.Duration
	// Err is the failure, for EventMintFailed and EventStoreError. For a
	// failed mint its text is already redacted and bounded (see
	// MaxErrorText); a store's error is redacted when the Event is logged
	// through LogValue.
	Err error
}

// LogValue implements slog.LogValuer, so an Event can be logged as one
// attribute: slog.Any("token_event", e). The error's text is redacted
// (credentials such as client_secret=…, Authorization values, tokens and
// URL queries become "[redacted]") and cut to MaxErrorText bytes, so the
// Event is safe to log as it is.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("kind", e.Kind.String()), slog.String("key", e.Key)}
	if e.Op != "" {
		attrs = append(attrs, slog.String("op", e.Op))
	}
	if !e.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", e.Expiry))
	}
	if e.Duration != 0 {
		attrs = append(attrs, slog.Duration("duration", e.Duration))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", redact.Bounded(e.Err.Error(), MaxErrorText)))
	}
	return slog.GroupValue(attrs...)
}
