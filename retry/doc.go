// Package retry decides when a failed delivery attempt is tried again: backoff
// schedules, a retry [Policy], and [Do] for short in-process retries. The
// durable dispatcher uses the same Policy, through [Policy.Next], to compute
// the next attempt time it stores, so a restart loses no schedule.
//
//	p := retry.Policy{
//		Backoff:     retry.Exponential{Initial: 200 * time.Millisecond, Max: 2 * time.Second, Factor: 2, Jitter: retry.EqualJitter},
//		MaxAttempts: 4,
//		MaxElapsed:  10 * time.Second,
//	}
//	err := retry.Do(ctx, p, func(ctx context.Context) error {
//		return send(ctx, msg) // an error classified by package classify
//	})
//	if classify.Of(err) == classify.ClassPermanent {
//		// dead-letter it; err also says how many attempts were made
//	}
//
// # Schedule
//
// A [Backoff] maps the attempt number to a wait: Delay(1) is the wait after
// the first failed attempt. [Exponential] grows by a factor up to a cap,
// optionally with full, equal or decorrelated [Jitter] (formulas and bounds
// on Jitter); [Constant] and [BackoffFunc] cover the rest. The default,
// [DefaultBackoff], is unjittered so that its documented schedule is the real
// one: 1m, 3m, 9m, 27m, 1h21m, 4h3m, then 6h for every later retry. Delay is
// overflow-safe: attempt 1,000,000 gives the cap.
//
// # Which outcomes are retried
//
// The class of the error (see package classify) decides:
//
//	ClassEphemeral    retried with backoff, bounded by MaxAttempts and MaxElapsed
//	ClassUnavailable  retried; the destination was not tried (gate closed,
//	                  breaker open, shutdown), so Next never gives up on it,
//	                  while Do still counts it so that Do always terminates
//	ClassPermanent    not retried: it would fail every time
//	ClassDiscard      not retried: the record itself is invalid
//	ClassOK, ClassDuplicate and a nil error: done, nothing to retry
//
// A Retry-After carried by the error (see [classify.RetryAfter]) is a floor
// under the wait, applied after jitter, so no strategy retries before the
// partner asked; the floor is capped by Policy.MaxRetryAfter (default 6h) so
// a hostile header cannot park work indefinitely.
//
// # Settings
//
// Policy fields have documented zero-value defaults, and the zero Policy is
// [DefaultPolicy]: DefaultBackoff, 10 attempts, no elapsed-time limit. An
// [Exponential] has no defaults: each field must be set, because a
// zero Initial or Factor is more likely a mistake than a wish. Invalid
// settings (Factor < 1, Initial <= 0, Max < Initial, a negative MaxAttempts,
// ...) are reported by Validate with an error wrapping [ErrInvalidSettings]
// that names the field; they are never silently replaced.
//
// # Errors
//
// When Do gives up it returns an [*AttemptsError]: it wraps the last
// attempt's error, so [classify.Of] still gives that attempt's class, and
// it records how many attempts were made and why Do stopped
// ([ErrMaxAttempts], [ErrMaxElapsed], [ErrContextDone], or nil when the class
// is not retried).
//
// This package never imports package delivery; delivery adapts it as
// middleware.
package retry
