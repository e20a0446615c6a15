package delivery

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxDestinationName bounds a destination's name (Message.Destination)
// in bytes.
const MaxDestinationName = MaxIDBytes

// DefaultDestination is the name of the destination of records whose
// Message.Destination is empty.
const DefaultDestination = ""

// DestinationStatus is what a store lets claims do with a destination's
// records.
type DestinationStatus uint8

// Destination statuses.
const (
	// DestinationActive destinations are claimed from, within their
	// MaxInFlight.
	DestinationActive DestinationStatus = iota + 1
	// DestinationPaused destinations are not claimed from until
	// PausedUntil. A pause is fleet-wide: it lives in the store.
	DestinationPaused
	// DestinationProbing destinations were paused and the pause has
	// ended: claims hand out one record at a time across every process
	// (the probe, Record.Probe set) until a dispatcher reports the
	// destination healthy (Store.ResumeDestination with the probe's
	// lease) or pauses it again.
	DestinationProbing
	// DestinationDisabled destinations are never claimed from until a
	// person resumes them (Store.ResumeDestination). A 410 Gone, or a
	// pause that lasted longer than DispatcherConfig.DisableAfter,
	// disables a destination.
	DestinationDisabled
)

var destinationStatusNames = [...]string{
	DestinationActive:   "active",
	DestinationPaused:   "paused",
	DestinationProbing:  "probing",
	DestinationDisabled: "disabled",
}

// String returns the status's name ("active", "paused", "probing",
// "disabled"), or "status(N)" for an undefined value.
func (s DestinationStatus) String() string {
	if s >= DestinationActive && int(s) < len(destinationStatusNames) {
		return destinationStatusNames[s]
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Destination is a partner endpoint as a store knows it: durable state
// shared by every process on the store, with live figures computed when it
// is read.
type Destination struct {
	// Name is the destination's name: Message.Destination of its records.
	Name string
	// Status says whether its records may be claimed, as of the time the
	// destination was read.
	Status DestinationStatus
	// PausedUntil is when the current pause ends; zero when not paused.
	// It stays set while probing (the pause has ended but no probe has
	// succeeded yet).
	PausedUntil time.Time
	// PausedSince is when the destination was first paused since it was
	// last healthy; zero when it is active. DispatcherConfig.DisableAfter
	// is measured from it.
	PausedSince time.Time
	// Pauses counts the pauses since the destination was last healthy; a
	// dispatcher grows its probe interval with it.
	Pauses int
	// Cause is a short stable name of why the destination is paused or
	// disabled ("http_429", "dns", "tls_cert", "conn_refused",
	// "breaker_open", "gone", "operator", ...), empty when active.
	Cause string
	// Reason is a person's explanation of the pause or disable, redacted
	// like attempt errors; empty when active.
	Reason string
	// MaxInFlight bounds how many of its records may be leased at once,
	// counted over every unexpired lease in the store, so the bound holds
	// for a whole fleet. Zero means no bound.
	MaxInFlight int
	// ChangedAt is when its status, pause or limit last changed; zero for
	// a destination that is only known from its records.
	ChangedAt time.Time

	// Pending, InFlight and Dead count its records in those states.
	Pending, InFlight, Dead int64
	// OldestPending is the age (now - CreatedAt) of its oldest live record,
	// or 0 when it has none.
	OldestPending time.Duration

	// Rate and Burst are its fleet-wide rate limit (DestinationLimits);
	// zero Rate is none.
	Rate  float64
	Burst int
}

// Pause is a destination-wide pause, as recorded by Store.PauseDestination.
type Pause struct {
	// Until is when the pause ends. It must be in the future; a store
	// never shortens a pause already recorded: the later end wins.
	Until time.Time
	// Cause is a short stable name for the reason ("http_429", "dns",
	// "breaker_open", "operator", ...). Required.
	Cause string
	// Reason explains the pause to a person (an error text: the store
	// redacts and bounds it like Attempt.Error).
	Reason string
	// Length, if set, makes the pause last at least Length(n) from now,
	// where n is the destination's pause count including this one (see
	// Destination.Pauses): a dispatcher grows its probe interval across
	// the fleet this way, whichever process paused it before.
	Length func(pauses int) time.Duration
}

// DestinationLimits are the limits a store enforces for one destination.
type DestinationLimits struct {
	// MaxInFlight bounds the destination's records leased at once across
	// every process on the store. Zero means no bound; negative is
	// ErrInvalid.
	MaxInFlight int
	// Rate bounds how many of the destination's records Claim hands out
	// per second across every process on the store (GCRA, one timestamp
	// per destination kept in the store, read and written on the store's
	// clock inside the claim). Zero means no bound; see
	// ValidateDestinationLimits for the accepted range.
	Rate float64
	// Burst is how many records Claim may hand out at once when the
	// destination has been idle: over any span of length t it hands out
	// at most Burst + Rate·t. Zero with a Rate means 1.
	Burst int
}

// ValidateDestinationName returns an error wrapping ErrInvalid when name
// cannot name a destination: longer than MaxDestinationName bytes, not
// valid UTF-8, or holding a NUL byte. The empty name is the default
// destination and is valid.
func ValidateDestinationName(name string) error {
	switch {
	case len(name) > MaxDestinationName:
		return fmt.Errorf("delivery: destination name of %d bytes exceeds %d: %w", len(name), MaxDestinationName, ErrInvalid)
	case !utf8.ValidString(name):
		return fmt.Errorf("delivery: destination name is not valid UTF-8: %w", ErrInvalid)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("delivery: destination name %q has a NUL byte: %w", name, ErrInvalid)
	}
	return nil
}

// ValidatePause returns an error wrapping ErrInvalid when p cannot pause a
// destination at now: Until not after now, or no Cause.
func ValidatePause(p Pause, now time.Time) error {
	switch {
	case !p.Until.After(now):
		return fmt.Errorf("delivery: pause until %v is not after now (%v): %w", p.Until, now, ErrInvalid)
	case p.Cause == "":
		return fmt.Errorf("delivery: pause needs a Cause: %w", ErrInvalid)
	case len(p.Cause) > 64:
		return fmt.Errorf("delivery: pause cause of %d bytes exceeds 64: %w", len(p.Cause), ErrInvalid)
	}
	return nil
}

// DestinationStatusAt returns the status, at now, of a destination whose
// stored state is disabled and pausedUntil: Disabled, else Active when it
// has no pause, Paused before pausedUntil and Probing from then on. Stores
// use it so that every store reads a pause the same way.
func DestinationStatusAt(disabled bool, pausedUntil, now time.Time) DestinationStatus {
	switch {
	case disabled:
		return DestinationDisabled
	case pausedUntil.IsZero():
		return DestinationActive
	case pausedUntil.After(now):
		return DestinationPaused
	default:
		return DestinationProbing
	}
}

// ClaimRoom returns how many more records of a destination in status st,
// with leased records under unexpired leases, a claim may lease: none while
// it is paused or disabled, one at a time while probing, and no more than
// maxInFlight in all (zero: no bound, and math.MaxInt is returned).
func ClaimRoom(st DestinationStatus, maxInFlight, leased int) int {
	limit := -1
	switch st {
	case DestinationPaused, DestinationDisabled:
		return 0
	case DestinationProbing:
		limit = 1
	}
	if maxInFlight > 0 && (limit < 0 || maxInFlight < limit) {
		limit = maxInFlight
	}
	if limit < 0 {
		return math.MaxInt
	}
	return max(0, limit-leased)
}
