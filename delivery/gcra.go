package delivery

import (
	"fmt"
	"math"
	"time"
)

// Bounds of a fleet-wide rate limit (DestinationLimits.Rate and Burst).
const (
	// MaxRate is the highest Rate a store accepts, in records per second:
	// the emission interval is kept in whole microseconds, so faster
	// rates could not be told apart.
	MaxRate = 100_000
	// MinRate is the lowest Rate other than zero a store accepts: one
	// record per 1,000 seconds.
	MinRate = 0.001
	// MaxBurst is the highest Burst a store accepts.
	MaxBurst = 100_000
)

// EmissionInterval is the time one record of a destination limited to
// rate records per second costs its limit: 1/rate, rounded up to the next
// microsecond so that every store (PostgreSQL keeps microseconds) reads
// the limit alike and never grants faster than rate. It returns 0 for a
// rate <= 0 (no limit).
func EmissionInterval(rate float64) time.Duration {
	if rate <= 0 || math.IsNaN(rate) {
		return 0
	}
	rate = max(rate, MinRate)
	return time.Duration(math.Ceil(1e6/rate)) * time.Microsecond
}

// GCRA is the generic cell rate algorithm that a store runs inside Claim
// for a destination limited to rate records per second with burst: tat is
// the destination's theoretical arrival time, the one timestamp the store
// keeps (zero when the limit has never been used), now is the store's
// clock and want is how many records the claim would take. It returns how
// many it may take (0..want) and the tat to store when it takes granted of
// them (tat is returned unchanged when granted is 0).
//
// The limit holds over any interval: a destination is granted at most
// burst + rate·t records in any span of length t, whoever claims them, as
// long as every claim reads one clock (the store's) and writes tat under
// the destination's lock. A rate <= 0 is no limit: want is granted and tat
// returned as it is. A burst < 1 counts as 1.
func GCRA(tat, now time.Time, rate float64, burst, want int) (granted int, next time.Time) {
	iv := EmissionInterval(rate)
	if iv == 0 {
		return want, tat
	}
	if want <= 0 {
		return 0, tat
	}
	burst = max(burst, 1)
	base := tat
	if base.Before(now) {
		base = now
	}
	// A record may go while base - now <= (burst-1)·iv.
	wait := base.Sub(now)
	room := (time.Duration(burst)*iv - wait) / iv
	if room <= 0 {
		return 0, tat
	}
	granted = int(min(int64(room), int64(want)))
	return granted, base.Add(time.Duration(granted) * iv)
}

// GCRANext returns when a destination whose stored theoretical arrival
// time is tat has a token again under rate and burst: tat - (burst-1)·1/rate.
// It is zero for no limit (rate <= 0) or a zero tat. The time may be in
// the past (a token is there now).
func GCRANext(tat time.Time, rate float64, burst int) time.Time {
	iv := EmissionInterval(rate)
	if iv == 0 || tat.IsZero() {
		return time.Time{}
	}
	return tat.Add(-time.Duration(max(burst, 1)-1) * iv)
}

// ValidateDestinationLimits returns an error wrapping ErrInvalid when l
// cannot be stored: a negative MaxInFlight, a Rate that is not zero nor
// within MinRate..MaxRate, a Burst that is negative or above MaxBurst, or
// a Burst without a Rate.
func ValidateDestinationLimits(l DestinationLimits) error {
	switch {
	case l.MaxInFlight < 0:
		return fmt.Errorf("delivery: limits: MaxInFlight %d is negative: %w", l.MaxInFlight, ErrInvalid)
	case math.IsNaN(l.Rate) || l.Rate < 0 || l.Rate > MaxRate || (l.Rate > 0 && l.Rate < MinRate):
		return fmt.Errorf("delivery: limits: Rate %v is neither 0 nor within %v..%d per second: %w", l.Rate, MinRate, MaxRate, ErrInvalid)
	case l.Burst < 0 || l.Burst > MaxBurst:
		return fmt.Errorf("delivery: limits: Burst %d outside 0..%d: %w", l.Burst, MaxBurst, ErrInvalid)
	case l.Burst > 0 && l.Rate == 0:
		return fmt.Errorf("delivery: limits: Burst %d without a Rate: %w", l.Burst, ErrInvalid)
	}
	return nil
}
