package retry

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/internal/nilcheck"
)

// Defaults for the zero fields of a [Policy].
const (
	// DefaultMaxAttempts is the number of attempts, the first included, of
	// a Policy whose MaxAttempts is 0. With [DefaultBackoff] the tenth and
	// last attempt starts 24h4m after the first.
	DefaultMaxAttempts = 10
	// DefaultMaxRetryAfter caps a partner's Retry-After for a Policy whose
	// MaxRetryAfter is 0. It equals the cap of [DefaultBackoff], so a
	// partner can never make us wait longer than our own backoff would at
	// its slowest.
	DefaultMaxRetryAfter = 6 * time.Hour
)

// defaultBackoff is DefaultBackoff boxed once, so that a Policy with a nil
// Backoff does not allocate on every decision.
var defaultBackoff Backoff = DefaultBackoff()

// Policy decides whether and when a failed attempt is tried again. The same
// Policy drives [Do] for short in-process retries and [Policy.Next] for a
// durable scheduler that stores the next attempt time.
//
// The zero Policy is valid and equals [DefaultPolicy]. A zero field means
// its documented default; a negative value is invalid and reported by
// [Policy.Validate] (and by Do, which refuses to run with it). A Policy is a
// plain value, safe to copy and to use from many goroutines as long as its
// Backoff and OnRetry are.
type Policy struct {
	// Backoff gives the wait before each retry. Nil means DefaultBackoff():
	// 1m, 3m, 9m, 27m, 1h21m, 4h3m, then 6h. A Backoff with a
	// Validate() error method is validated by Policy.Validate.
	Backoff Backoff

	// MaxAttempts is the number of attempts, including the first. 1 means
	// never retry; 0 means DefaultMaxAttempts (10); negative is invalid.
	// Next applies it to ClassEphemeral outcomes only, Do to every outcome
	// (see the package documentation on ClassUnavailable).
	MaxAttempts int

	// MaxElapsed bounds the whole effort: no retry is scheduled to start
	// later than MaxElapsed after the first attempt started. 0 means no
	// limit; negative is invalid. Next applies it to ClassEphemeral
	// outcomes only, Do to every outcome.
	MaxElapsed time.Duration

	// MaxRetryAfter caps the floor that a partner's Retry-After puts under
	// the delay, so a hostile or broken header cannot park work for days. A
	// longer Retry-After is waited for MaxRetryAfter only. 0 means
	// DefaultMaxRetryAfter (6h); negative is invalid.
	MaxRetryAfter time.Duration

	// OnRetry, if not nil, is called by Do before each wait, on Do's
	// goroutine, with the number of the attempt that just failed (1 for the
	// first), the wait before the next one and the error that attempt
	// returned. It is not called when Do gives up. Next never calls it.
	OnRetry func(attempt int, delay time.Duration, err error)
}

// DefaultPolicy returns the library's default policy, which is also what the
// zero Policy means: [DefaultBackoff] (1m, 3m, 9m, 27m, ... capped at 6h, no
// jitter), [DefaultMaxAttempts] (10) attempts, no MaxElapsed limit, and
// Retry-After honoured up to [DefaultMaxRetryAfter] (6h).
//
// Its waits suit a durable dispatcher. For in-process retries with [Do],
// which block the caller, use short delays and a MaxElapsed.
func DefaultPolicy() Policy {
	return Policy{
		Backoff:       defaultBackoff,
		MaxAttempts:   DefaultMaxAttempts,
		MaxRetryAfter: DefaultMaxRetryAfter,
	}
}

// Validate reports the first invalid setting of p, or nil if p is valid. The
// error wraps [ErrInvalidSettings] and names the field, for example
// "retry: invalid settings: Policy.MaxAttempts is -1; ...". A nil Backoff is
// valid (it means DefaultBackoff); a nil pointer or nil function stored in
// Backoff is not. Validate does not allocate when p is valid.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 0:
		return invalid("Policy.MaxAttempts", "is "+strconv.Itoa(p.MaxAttempts)+
			"; it must be at least 1, or 0 for the default ("+strconv.Itoa(DefaultMaxAttempts)+")")
	case p.MaxElapsed < 0:
		return invalid("Policy.MaxElapsed", "is "+p.MaxElapsed.String()+"; it must be positive, or 0 for no limit")
	case p.MaxRetryAfter < 0:
		return invalid("Policy.MaxRetryAfter", "is "+p.MaxRetryAfter.String()+
			"; it must be positive, or 0 for the default ("+DefaultMaxRetryAfter.String()+")")
	}
	if p.Backoff == nil {
		return nil
	}
	if nilcheck.Typed(p.Backoff) {
		return invalid("Policy.Backoff", "is a nil "+reflect.TypeOf(p.Backoff).String())
	}
	if c, ok := p.Backoff.(checker); ok {
		return validateChecker("Policy.Backoff", c)
	}
	if v, ok := p.Backoff.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("%w: Policy.Backoff: %w", ErrInvalidSettings, err)
		}
	}
	return nil
}

// Next decides whether and when to try again after attempts attempts have
// been made (attempts >= 1; a smaller value is treated as 1) and the last one
// ended in err, elapsed after the first attempt started. It returns the wait
// before the next attempt and true, or 0 and false to stop.
//
// The rules, in order:
//
//   - The class of err (as [classify.Of] gives it) decides first. Only
//     ClassEphemeral and ClassUnavailable are retried; nil, ClassOK,
//     ClassDuplicate, ClassPermanent and ClassDiscard stop at once.
//   - For ClassEphemeral, attempts >= MaxAttempts stops.
//   - The wait is Backoff.Delay(attempts), jitter included, raised to the
//     Retry-After carried by err (see [classify.RetryAfter]) if that is
//     longer; the Retry-After used is capped at MaxRetryAfter. Jitter
//     therefore never brings a retry before the partner's Retry-After (up
//     to the cap). A negative Backoff delay counts as 0.
//   - For ClassEphemeral, a wait that would start the next attempt later than
//     MaxElapsed after the first stops.
//
// ClassUnavailable means the destination was not tried: a durable dispatcher
// does not count it as an attempt and defers the record itself, so Next never
// gives up on it (neither MaxAttempts nor MaxElapsed applies) and a partner
// outage of any length cannot dead-letter a backlog. Pass the number of
// attempts that counted; the wait is computed as for ClassEphemeral, with the
// gate's Retry-After (if any) as the floor. [Do], which must terminate by
// itself, counts every call instead.
//
// Next is pure apart from the randomness of jitter, and does not allocate
// when err carries a [*classify.Error] (as errors from classify's
// constructors and [classify.HTTPRules] do); for other errors it calls
// classify.Of, which infers the class. On a Policy that Validate rejects,
// Next still never panics and never returns a negative wait, but what it
// decides is unspecified.
func (p Policy) Next(attempts int, elapsed time.Duration, err error) (delay time.Duration, retry bool) {
	delay, v := p.decide(attempts, elapsed, err, false)
	return delay, v == verdictRetry
}

// verdict is what decide concluded.
type verdict uint8

const (
	verdictRetry    verdict = iota // try again after the returned delay
	verdictFinal                   // the class is not retried
	verdictAttempts                // MaxAttempts reached
	verdictElapsed                 // MaxElapsed would be exceeded
)

// decide implements Next. With countAll, as Do needs, MaxAttempts and
// MaxElapsed also bound ClassUnavailable outcomes.
func (p Policy) decide(attempts int, elapsed time.Duration, err error, countAll bool) (time.Duration, verdict) {
	class, retryAfter := outcome(err)
	if !class.Retryable() {
		return 0, verdictFinal
	}
	bounded := countAll || class.CountsAttempt()
	attempts = max(attempts, 1)
	if bounded && attempts >= p.maxAttempts() {
		return 0, verdictAttempts
	}
	backoff := p.Backoff
	if backoff == nil {
		backoff = defaultBackoff
	}
	delay := max(backoff.Delay(attempts), 0)
	if retryAfter > 0 {
		delay = max(delay, min(retryAfter, p.maxRetryAfter()))
	}
	if bounded && p.MaxElapsed != 0 && !fitsWithin(elapsed, delay, p.MaxElapsed) {
		return 0, verdictElapsed
	}
	return delay, verdictRetry
}

// fitsWithin reports whether elapsed+delay <= limit, without overflow.
func fitsWithin(elapsed, delay, limit time.Duration) bool {
	elapsed = max(elapsed, 0)
	if elapsed > limit {
		return false
	}
	return delay <= limit-elapsed
}

func (p Policy) maxAttempts() int {
	switch {
	case p.MaxAttempts == 0:
		return DefaultMaxAttempts
	case p.MaxAttempts < 0:
		return 1 // invalid: never retry
	}
	return p.MaxAttempts
}

func (p Policy) maxRetryAfter() time.Duration {
	if p.MaxRetryAfter <= 0 {
		return DefaultMaxRetryAfter
	}
	return p.MaxRetryAfter
}
