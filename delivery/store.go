package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outbound-go/outbound/classify"
)

// Store keeps records durably (or, for tests, in memory) and hands them out
// to workers under leases. It is the pluggable storage contract of the
// Dispatcher: package memstore and package postgres implement it, and
// package storetest checks any implementation against this contract.
//
// Times: a store compares leases and due times on one clock that every
// instance sharing it reads alike: memstore, in one process, reads its
// configured clock (time.Now by default); the PostgreSQL store reads the
// database server's clock, so that an instance whose clock is off can
// neither take over a live lease nor claim a retry early. The times a
// caller hands in (Reschedule's next, Purge's before,
// Filter.UpdatedBefore) are on the caller's clock, time.Now: a store whose
// clock is another takes them as their distance from the caller's now, and
// NextDuer's answer is on the caller's clock too. The times on the records
// a store returns are on the store's clock. A store built with an explicit
// clock (memstore.Config.Now, postgres.Config.Now; package storetest drives
// stores with a manual one) reads it for everything.
//
// Errors: a call with bad input returns an error wrapping ErrInvalid (or
// ErrTooLarge, or ErrConflict) and changes nothing; settling a record with a stale lease
// returns ErrLeaseLost; an unknown id returns ErrNotFound. Implementations
// must be safe for concurrent use by many goroutines and processes.
type Store interface {
	// Enqueue adds messages as pending records due now, atomically: either
	// all are stored or, on error, none. It assigns an ID to a message
	// without one and sets CreatedAt when zero.
	//
	// Enqueue is idempotent on ID, and on (Destination, IdempotencyKey)
	// for a non-empty IdempotencyKey: a message whose ID, or whose
	// Destination and IdempotencyKey together, match an existing record
	// (or an earlier message of the same call) changes nothing and returns
	// that record with Existing set. One IdempotencyKey shared by messages
	// for different destinations (one event for several partners) gives
	// one record per destination. A match must be the same message: the
	// same Payload, and for a match by ID the same Destination and
	// IdempotencyKey too; otherwise Enqueue returns an error wrapping
	// ErrConflict (and ErrInvalid) and stores nothing of the call, since
	// keeping the old record would drop the new data without a word.
	//
	// A message without a CorrelationID takes the one carried by ctx, so
	// a record enqueued while handling a request keeps that request's id;
	// a message's own id wins, with neither it stays empty (the dispatcher
	// then uses the record id), and an existing record is never changed by
	// it. Messages are validated with ValidateMessage after that.
	// PrepareMessage does all of this for a store, message by message, and
	// CheckMatch tells a match from a conflict.
	Enqueue(ctx context.Context, msgs ...Message) ([]Enqueued, error)

	// Claim leases up to limit due records for lease and returns them in
	// flight, with a fresh LeaseToken. A record is due when it is pending
	// with NextAttemptAt <= now, or in flight with an expired lease.
	//
	// Destinations: Claim never hands out records of a paused or disabled
	// destination, never lets a destination's records leased at once (over
	// every unexpired lease in the store, whoever holds it) exceed its
	// MaxInFlight, and hands out at most one record at a time of a
	// destination whose pause has ended (the probe, with Probe set). It
	// spreads one claim across the destinations with due records in
	// rounds, one record per destination per round (round robin, the
	// destination served least recently first), so a large backlog for
	// one destination never delays another's; within a destination,
	// oldest due first, ties by Seq.
	//
	// Per-key ordering is scoped to the destination: a record with a
	// non-empty Key is claimable only if it is the lowest-Seq live
	// (pending or in-flight) record of its (Destination, Key) and no
	// record of that pair is in flight under an unexpired lease; so a
	// record waiting to retry holds back the later records of its key at
	// its destination only, never those of another destination.
	//
	// Records of the destinations named in skip are not claimed: a
	// dispatcher skips the destinations that already hold their share of
	// its workers, so a slow partner cannot take them all.
	//
	// limit <= 0 or lease <= 0 is ErrInvalid. Claim returns an empty
	// slice when nothing is claimable. The slice it returns, and what its
	// records hold, belong to the caller: the store must not keep or
	// reuse them.
	Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]Record, error)

	// Complete marks a claimed record delivered, recording attempt a
	// (which counts) and whether the destination said it was a duplicate.
	Complete(ctx context.Context, l Lease, a Attempt, duplicate bool) error

	// Reschedule returns a claimed record to pending, due at next. With a
	// non-nil attempt the attempt is recorded and counted; with nil it is
	// a deferral: no attempt is counted, LastAttempt is kept and Deferrals
	// is incremented.
	Reschedule(ctx context.Context, l Lease, next time.Time, a *Attempt) error

	// DeadLetter marks a claimed record dead, recording attempt a (which
	// counts). Dead records are kept for inspection and Redrive.
	DeadLetter(ctx context.Context, l Lease, a Attempt) error

	// Discard marks a claimed record discarded, recording attempt a (which
	// counts); its error text is the reason.
	Discard(ctx context.Context, l Lease, a Attempt) error

	// Release returns a claimed record to pending, due now, without
	// counting an attempt or a deferral (a worker shutting down gives it
	// back).
	Release(ctx context.Context, l Lease) error

	// Redrive moves dead records back to pending, due now, with Attempts
	// reset to zero and RedrivenAt set to now, at the back of their key's
	// queue (a new Seq). It is
	// all or nothing: an unknown id is ErrNotFound and a record that is
	// not dead is ErrInvalid, and then nothing changes. It returns how many
	// records it moved.
	Redrive(ctx context.Context, ids ...string) (int, error)

	// RedriveMatching redrives every dead record matching f and returns
	// how many it moved. A store may apply it in batches, each committed on
	// its own, so that it never locks or loads an unbounded number of
	// records; on an error it then returns how many the committed batches
	// moved along with the error.
	RedriveMatching(ctx context.Context, f Filter) (int, error)

	// Get returns the record with the given id, or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)

	// List returns records matching opts in Seq order, one page at a time.
	List(ctx context.Context, opts ListOptions) (Page, error)

	// Stats counts records per state and measures the backlog's age.
	Stats(ctx context.Context) (Stats, error)

	// Cancel moves pending records to discarded without an attempt, their
	// LastAttempt.Error saying an operator cancelled them. It is all or
	// nothing: an unknown id is ErrNotFound and a record that is not
	// pending (in flight, or finished) is ErrInvalid, and then nothing
	// changes. It returns how many records it cancelled.
	Cancel(ctx context.Context, ids ...string) (int, error)

	// RetryNow makes pending records due now, keeping their attempts (a
	// record waiting for a retry is tried at once; use Redrive for dead
	// ones). It is all or nothing like Cancel. A record of a paused
	// destination still waits for the pause to end.
	RetryNow(ctx context.Context, ids ...string) (int, error)

	// PauseDestination pauses the named destination for every process on
	// the store until p.Until: Claim hands out none of its records, then
	// one at a time (probing) until ResumeAfterProbe or ResumeDestination.
	// A pause never ends earlier than one already recorded (the later
	// end wins, with its Cause and Reason). A pause of a destination that
	// is not paused at that moment (active, or probing) increments Pauses;
	// one that extends a running pause does not, so a burst of failures
	// counts once. It sets PausedSince if zero, and lasts at least
	// p.Length(Pauses) when Length is set. A destination that has no records can be
	// paused. A disabled destination stays disabled. Records in flight are
	// not touched. It returns the destination's state after the pause
	// (without figures). An invalid name or pause (ValidateDestinationName,
	// ValidatePause) is ErrInvalid.
	PauseDestination(ctx context.Context, name string, p Pause) (Destination, error)

	// ResumeAfterProbe makes a probing destination active again (Pauses,
	// PausedSince, Cause and Reason cleared) and reports whether it did:
	// a destination paused again meanwhile (Until still ahead), disabled,
	// or already active is left as it is.
	ResumeAfterProbe(ctx context.Context, name string) (bool, error)

	// ResumeDestination makes the named destination active whatever its
	// status: a person ending a pause or a disable. An unknown destination
	// (no records, no stored state) is ErrNotFound.
	ResumeDestination(ctx context.Context, name string) error

	// DisableDestination disables the named destination until
	// ResumeDestination: Claim never hands out its records. cause is a
	// short stable name ("gone", "paused_too_long", "operator") and is
	// required; reason is redacted and bounded like Attempt.Error.
	DisableDestination(ctx context.Context, name, cause, reason string) error

	// SetDestinationLimits stores the limits Claim enforces for the named
	// destination, for every process on the store, from the next claim on.
	SetDestinationLimits(ctx context.Context, name string, l DestinationLimits) error

	// Destinations lists every destination the store knows (with records
	// pending, in flight or dead, or with stored state: a pause, a disable
	// or limits) with its figures, by name.
	Destinations(ctx context.Context) ([]Destination, error)

	// Purge deletes up to limit delivered and discarded records last
	// updated before before, oldest first, and returns how many it
	// deleted. Dead records are never purged. Their idempotency keys are
	// forgotten with them. limit <= 0 is ErrInvalid.
	Purge(ctx context.Context, before time.Time, limit int) (int, error)
}

// Notifier is implemented by stores that can wake a dispatcher when records
// become claimable through an outside action: an insert, or an operator's
// redrive. Settling records never signals it, so a dispatcher's own writes
// cannot re-trigger it. The channel is shared and coalescing:
// one receive may stand for many inserts.
type Notifier interface {
	Notify() <-chan struct{}
}

// NextDuer is implemented by stores that can say when a record will next
// become claimable without a new insert, so that a dispatcher sleeps until
// exactly then instead of polling. Several dispatchers sharing a store each
// see every record's schedule, not only the retries they scheduled
// themselves.
type NextDuer interface {
	// NextDue returns the earliest NextAttemptAt of a pending record that
	// is claimable by order (unkeyed, or the head of its key), or the
	// earliest lease expiry of an in-flight record, whichever is sooner;
	// ok is false when there is neither. The time may be in the past.
	NextDue(ctx context.Context) (t time.Time, ok bool, err error)
}

// Enqueued is the result of enqueuing one message.
type Enqueued struct {
	// Record is the stored record: the new one, or the existing one.
	Record Record
	// Existing reports that a record with the same ID, or the same
	// Destination and IdempotencyKey, was already stored (or came earlier
	// in the same call) and nothing changed.
	Existing bool
}

// Filter selects dead records to redrive. Zero fields match everything.
type Filter struct {
	// Key, if set, matches records of this ordering key.
	Key string
	// Destination, if set, matches records for this destination.
	Destination string
	// Classes, if not empty, matches records whose last attempt ended in
	// one of these classes.
	Classes []classify.Class
	// UpdatedBefore, if set, matches records that died before this time.
	UpdatedBefore time.Time
}

// ListOptions selects a page of records.
type ListOptions struct {
	// State, if set, lists only records in this state.
	State State
	// Destination, if set, lists only records of this destination.
	Destination string
	// Key, if set, lists only records of this ordering key.
	Key string
	// Limit is the page size. Zero means DefaultPageSize; more than
	// MaxPageSize or negative is ErrInvalid.
	Limit int
	// After is the cursor from the previous page's Next, or "" for the
	// first page.
	After string
	// UpdatedAfter, if set, lists only records last changed (UpdatedAt)
	// at or after this time, on the caller's clock like
	// Filter.UpdatedBefore.
	UpdatedAfter time.Time
	// UpdatedBefore, if set, lists only records last changed before this
	// time.
	UpdatedBefore time.Time
	// ErrorContains, if set, lists only records whose LastAttempt.Error
	// contains it (bytes compared as they are: case matters). Text that
	// no store can hold (invalid UTF-8, a NUL byte) matches nothing
	// (SearchableText).
	ErrorContains string
}

// Matches reports whether r matches o's filters (State, Destination, Key,
// UpdatedAfter, UpdatedBefore, ErrorContains), its times compared on one
// clock: for stores that filter records in memory.
func (o ListOptions) Matches(r *Record) bool {
	return (o.State == 0 || r.State == o.State) &&
		(o.Destination == "" || r.Destination == o.Destination) &&
		(o.Key == "" || r.Key == o.Key) &&
		(o.UpdatedAfter.IsZero() || !r.UpdatedAt.Before(o.UpdatedAfter)) &&
		(o.UpdatedBefore.IsZero() || r.UpdatedAt.Before(o.UpdatedBefore)) &&
		(o.ErrorContains == "" || SearchableText(o.ErrorContains) && strings.Contains(r.LastAttempt.Error, o.ErrorContains))
}

// SearchableText reports whether s can match stored text: valid UTF-8
// without a NUL byte. Stores answer a search for anything else with
// nothing, without asking their database.
func SearchableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Page sizes for List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// PageSize checks o for a store's List and returns the page size to use:
// Limit, or DefaultPageSize when it is zero. It returns an error wrapping
// ErrInvalid for a Limit outside 1..MaxPageSize or an undefined State. The
// cursor (After) is the store's own format and is checked by the store.
func (o ListOptions) PageSize() (int, error) {
	limit := o.Limit
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 0 || limit > MaxPageSize {
		return 0, fmt.Errorf("list limit %d outside 1..%d: %w", o.Limit, MaxPageSize, ErrInvalid)
	}
	if o.State != 0 && !o.State.Valid() {
		return 0, fmt.Errorf("list state %v: %w", o.State, ErrInvalid)
	}
	return limit, nil
}

// Page is one page of a listing.
type Page struct {
	// Records in Seq order.
	Records []Record
	// Next is the cursor for the following page, or "" when this is the
	// last page.
	Next string
}

// Stats describes a store's backlog.
type Stats struct {
	// Counts holds the number of records per state, indexed by State.
	// Pending, in-flight and dead counts are exact; a store may estimate
	// the delivered and discarded counts of a large table from its
	// statistics (the PostgreSQL store does beyond 10,000), since those
	// grow without bound until retention purges them.
	Counts [StateDiscarded + 1]int64
	// OldestPending is the age (now - CreatedAt) of the oldest live
	// (pending or in-flight) record, or 0 if there is none.
	OldestPending time.Duration
	// OldestDue is how long the longest-waiting due pending record has
	// been due (now - NextAttemptAt), or 0 if none is due.
	OldestDue time.Duration
}

// Count returns the number of records in state s.
func (s Stats) Count(st State) int64 {
	if !st.Valid() {
		return 0
	}
	return s.Counts[st]
}

// Errors returned by stores.
var (
	// ErrNotFound means no record has the given id.
	ErrNotFound = errors.New("delivery: record not found")
	// ErrLeaseLost means the record is no longer claimed under the
	// presented lease: it was settled already, or its lease expired and
	// another worker claimed it. The caller's result must be dropped.
	ErrLeaseLost = errors.New("delivery: lease lost")
	// ErrInvalid means the input was rejected; nothing changed.
	ErrInvalid = errors.New("delivery: invalid input")
	// ErrTooLarge means a message exceeds a documented size limit;
	// nothing changed. It wraps ErrInvalid.
	ErrTooLarge = &tooLargeError{}
	// ErrConflict means an enqueued message matches a stored record (or
	// an earlier message of the same call) by ID or by Destination and
	// IdempotencyKey but is not the same message: its payload differs, or,
	// matched by ID, its destination or idempotency key does. Nothing
	// changed. It wraps ErrInvalid.
	ErrConflict = &conflictError{}
)

type tooLargeError struct{}

func (*tooLargeError) Error() string { return "delivery: message too large" }
func (*tooLargeError) Unwrap() error { return ErrInvalid }

type conflictError struct{}

func (*conflictError) Error() string {
	return "delivery: message conflicts with a stored record of the same id or destination and idempotency key"
}
func (*conflictError) Unwrap() error { return ErrInvalid }

// LimitsReader is implemented by stores that can read one destination's
// stored limits cheaply (one row, no figures). A Dispatcher learning a
// partner's rate reads the rate in force for the fleet through it before
// it changes it, so that processes do not cut on top of each other's cuts.
type LimitsReader interface {
	// DestinationLimits returns the limits stored for the named
	// destination; zero limits for a destination without any.
	DestinationLimits(ctx context.Context, name string) (DestinationLimits, error)
}

// RateLowerer is implemented by stores that can lower one destination's
// rate in one step, never raising it: processes that learn a partner's
// limit at the same moment then cannot undo each other's cuts (with
// SetDestinationLimits alone, the last writer wins, and a process that
// read the rate before another cut it writes a higher one back). A
// Dispatcher uses it, when the store has it, for every cut of a learned
// rate.
type RateLowerer interface {
	// LowerDestinationRate makes the named destination's stored Rate
	// rate unless it is lower already (zero, no limit, is not lower),
	// leaving its other limits as they are, and returns the Rate in
	// force after. It returns 0, storing nothing, for a destination
	// without stored limits, and an error wrapping ErrInvalid for a bad
	// name or a rate outside MinRate..MaxRate.
	LowerDestinationRate(ctx context.Context, name string, rate float64) (float64, error)
}
