package delivery

import (
	"fmt"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/redact"
	"github.com/outbound-go/outbound/internal/text"
)

// State is where a record is in its life.
type State uint8

// Record states. Pending and InFlight are live; Delivered, Dead and
// Discarded are terminal (Dead records can be redriven back to Pending).
const (
	// StatePending records wait for their next-attempt time.
	StatePending State = iota + 1
	// StateInFlight records are claimed by a worker under a lease. A lease
	// that expires makes the record claimable again.
	StateInFlight
	// StateDelivered records were accepted (or already held) by the
	// destination.
	StateDelivered
	// StateDead records failed permanently or ran out of attempts. They are
	// kept for inspection and can be redriven.
	StateDead
	// StateDiscarded records were invalid and will never be sent.
	StateDiscarded
)

var stateNames = [...]string{
	StatePending:   "pending",
	StateInFlight:  "in_flight",
	StateDelivered: "delivered",
	StateDead:      "dead",
	StateDiscarded: "discarded",
}

// States lists every state in declaration order.
var States = [...]State{StatePending, StateInFlight, StateDelivered, StateDead, StateDiscarded}

// String returns the state's name ("pending", "in_flight", ...), or
// "state(N)" for an undefined value.
func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return s >= StatePending && int(s) < len(stateNames) }

// Terminal reports whether records in state s are finished: Delivered, Dead
// or Discarded.
func (s State) Terminal() bool { return s >= StateDelivered && s.Valid() }

// ParseState returns the state with the given name. It returns an error for
// an unknown name.
func ParseState(name string) (State, error) {
	for _, s := range States {
		if stateNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("delivery: unknown state %q", name)
}

// Attempt describes one delivery attempt, kept on the record for forensics:
// the latest as Record.LastAttempt, and the latest few, within the store's
// History bounds, as Record.History; observers see every attempt as it
// happens.
type Attempt struct {
	// StartedAt is when the attempt began.
	StartedAt time.Time
	// Duration is how long it took.
	Duration time.Duration
	// Status is the HTTP status, or 0 if there was no response. It is kept
	// for every answered attempt, successful ones included: from the
	// attempt's error, or else from what the Deliverer reported with
	// ReportResponse (the HTTP deliverer always does).
	Status int
	// Class is the outcome class.
	Class classify.Class
	// Error is the error text (empty on success), redacted of credentials
	// (URL user info and query strings, long opaque path segments, bearer
	// tokens, JWTs, credential key=value pairs) and at most MaxErrorText
	// bytes.
	Error string
	// Response is the start of what the partner answered to this attempt,
	// as its Deliverer reported it with ReportResponse: for the HTTP
	// deliverer, the first bytes of the response body, of successes too,
	// where a partner says the id it gave the resource it created (an ATS
	// or CRM integration keeps that id). It is redacted and bounded like
	// Error (credentials replaced by "[redacted]", one line of valid
	// UTF-8) to at most MaxResponseText bytes, and empty when nothing was
	// reported. Stores keep it with the record (Record.LastAttempt);
	// observers see it on AttemptEvent.Attempt as the attempt settles.
	Response string
	// Channel names the channel that carried the attempt, as its
	// Deliverer reported it with ReportChannel: for a failover set
	// (package delivery/failover), the name of the channel that answered,
	// or of the last one tried when none could take the message. It is
	// empty when the Deliverer has a single channel and reports none.
	// Every store keeps it in Record.History. The in-memory store keeps
	// it on LastAttempt too; the SQL stores have no column for it and
	// fill LastAttempt.Channel from the newest History entry when that
	// entry is the same attempt, so it is empty on records a Claim
	// returns (they carry no history) and when the store keeps no
	// history.
	Channel string
}

// MaxErrorText bounds Attempt.Error so a chatty partner cannot bloat the
// store.
const MaxErrorText = 2048

// MaxResponseText bounds Attempt.Response: enough for the JSON a partner
// answers a create with, small enough that a partner answering with a whole
// page cannot bloat the store.
const MaxResponseText = 4096

// NewAttempt describes an attempt that started at start and ended with err
// now. It fills Status and Class from err and keeps err's text redacted
// and bounded: the text is stored on the record, where Get, List and
// dead-letter pages show it, so credentials (URL user info and queries,
// secret path segments, tokens, passwords, Authorization values) are
// replaced by "[redacted]" as in RedactURL, while the rest, the partner's
// words in a response-body snippet included, is kept; it is one line of
// valid UTF-8, cut to MaxErrorText bytes ending in "…" when cut.
func NewAttempt(start time.Time, err error) Attempt {
	a := Attempt{StartedAt: start, Duration: time.Since(start), Class: classify.Of(err), Status: classify.Status(err)}
	if err != nil {
		a.Error = RedactedText(err.Error())
	}
	return a
}

// RedactedText returns s as a store keeps error text: credentials redacted
// as in NewAttempt, one line of valid UTF-8, at most MaxErrorText bytes.
// Stores apply it to pause and disable reasons too.
func RedactedText(s string) string { return text.Ellipsis(redact.Text(s), MaxErrorText) }

// Record is a message plus its delivery state, as a Store keeps it.
type Record struct {
	// Message is what to deliver. Message.Attempt is not stored; see
	// Attempts.
	Message
	// Seq orders records in their queue: records are claimed oldest due
	// first, ties broken by Seq, and records of one Key are delivered in
	// Seq order. A store assigns it on enqueue and again on redrive.
	Seq int64
	// State is where the record is in its life.
	State State
	// Attempts counts the attempts consumed so far. Unavailable outcomes
	// (gate closed, breaker open, shutdown) do not count.
	Attempts int
	// Deferrals counts how many times the record was deferred without an
	// attempt (destination unavailable).
	Deferrals int
	// NextAttemptAt is when the record is next due. Meaningful while
	// pending.
	NextAttemptAt time.Time
	// LeaseToken fences the current claim. It is set while in flight; a
	// completion must present it, so a worker whose lease expired and was
	// taken over cannot overwrite the newer claim.
	LeaseToken string
	// LeaseExpiresAt is when the current claim expires.
	LeaseExpiresAt time.Time
	// LastAttempt is the most recent attempt; its StartedAt is zero if the
	// record was never attempted.
	LastAttempt Attempt
	// Duplicate is set on delivered records whose destination said it
	// already had them.
	Duplicate bool
	// UpdatedAt is when the record last changed state.
	UpdatedAt time.Time
	// Probe is set on a record Claim handed out as the one probe of a
	// destination whose pause has ended. It is not stored.
	Probe bool
	// RedrivenAt is when the record was last redriven, or zero if never. A
	// redrive starts a new delivery effort: the dispatcher counts a
	// policy's MaxElapsed from the later of CreatedAt and RedrivenAt.
	RedrivenAt time.Time
	// History holds the record's latest attempts, oldest first, the
	// newest last (LastAttempt, unless an operator cancelled the record
	// since, which is not an attempt): at most the store's History bounds (by default
	// DefaultHistoryAttempts attempts and DefaultHistoryBytes), the oldest
	// dropped first. Deferrals and operator actions add nothing; a
	// redrive keeps it, so a redriven record shows what happened before.
	// Purge deletes it with the record.
	History []Attempt
}

// EffortStartedAt is when the current delivery effort began: the later of
// CreatedAt and RedrivenAt.
func (r Record) EffortStartedAt() time.Time {
	if r.RedrivenAt.After(r.CreatedAt) {
		return r.RedrivenAt
	}
	return r.CreatedAt
}

// Lease returns the handle a worker presents to settle this claimed record.
func (r Record) Lease() Lease { return Lease{ID: r.ID, Token: r.LeaseToken} }

// Lease identifies one claim of one record.
type Lease struct {
	// ID is the record's id.
	ID string
	// Token is the claim's fencing token.
	Token string
}
