package retry

import (
	"context"
	"errors"
	"time"
)

// errNilFunc is returned by Do and DoValue when fn is nil.
var errNilFunc = errors.New("retry: Do called with a nil function")

// Do calls fn until it succeeds or p says to stop, waiting between attempts as
// p says, and returns nil on success or an [*AttemptsError] otherwise.
//
// Each failed attempt is decided as [Policy.Next] describes, with one
// difference: Do counts every call to fn, ClassUnavailable outcomes included,
// against MaxAttempts and MaxElapsed, so it always terminates after at most
// MaxAttempts calls without relying on ctx. Before each wait it calls
// p.OnRetry.
//
// The caller's ctx bounds everything: Do makes no attempt once ctx has ended,
// stops a wait the moment ctx ends, and does not start a wait that would
// outlast ctx's deadline; in each case it returns at once with Reason
// [ErrContextDone] and the last attempt's error. fn receives ctx unchanged;
// per-attempt timeouts are fn's business.
//
// The returned *AttemptsError keeps the last error's class for
// [classify.Of] and says how many attempts were made. If p is invalid, Do
// returns p.Validate's error without calling fn. On success Do does not
// allocate.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	if fn == nil {
		return errNilFunc
	}
	return run(ctx, p, fn)
}

// DoValue is [Do] for a function that returns a value. It returns the value
// and error of the last attempt; when it gives up, the error is an
// [*AttemptsError] as for Do and the value is whatever fn returned with its
// error (usually the zero value). When no attempt was made it returns the
// zero value.
func DoValue[T any](ctx context.Context, p Policy, fn func(ctx context.Context) (T, error)) (T, error) {
	var v T
	if fn == nil {
		return v, errNilFunc
	}
	err := run(ctx, p, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	return v, err
}

// epoch anchors run's elapsed-time readings. time.Since(epoch) reads only
// the monotonic clock, where time.Now reads the wall clock too: on a
// successful call that clock read is most of what Do costs.
var epoch = time.Now()

// run is the retry loop shared by Do and DoValue. fn must not be nil.
func run(ctx context.Context, p Policy, fn func(context.Context) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &AttemptsError{Err: err, Reason: ErrContextDone}
	}
	// The clock is read only when MaxElapsed needs it: on a call that
	// succeeds, the read would be most of what Do costs.
	var start time.Duration
	if p.MaxElapsed != 0 {
		start = time.Since(epoch)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		var elapsed time.Duration
		if p.MaxElapsed != 0 {
			elapsed = time.Since(epoch) - start
		}
		delay, v := p.decide(attempt, elapsed, err, true)
		if v != verdictRetry {
			return &AttemptsError{Attempts: attempt, Err: err, Reason: v.reason()}
		}
		if ctx.Err() != nil || outlastsDeadline(ctx, delay) {
			return &AttemptsError{Attempts: attempt, Err: err, Reason: ErrContextDone}
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, delay, err)
		}
		if delay > 0 {
			if timer == nil {
				timer = time.NewTimer(delay)
			} else {
				timer.Reset(delay)
			}
			select {
			case <-ctx.Done():
				return &AttemptsError{Attempts: attempt, Err: err, Reason: ErrContextDone}
			case <-timer.C:
			}
		}
		if ctx.Err() != nil {
			return &AttemptsError{Attempts: attempt, Err: err, Reason: ErrContextDone}
		}
	}
}

// outlastsDeadline reports whether an attempt started after delay would
// start at or after ctx's deadline, when it could only fail.
func outlastsDeadline(ctx context.Context, delay time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Add(delay).Before(deadline)
}
