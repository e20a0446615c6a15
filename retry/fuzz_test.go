package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/outbound-go/outbound/retry"
)

// checkDelayProperties checks the documented properties of e.Delay around
// attempt: never negative for any settings; for valid settings, never above
// Max, and without jitter at least Initial and never decreasing with the
// attempt number; with jitter within the documented bounds.
func checkDelayProperties(t *testing.T, e retry.Exponential, attempt int) {
	t.Helper()
	d := e.Delay(attempt)
	if d < 0 {
		t.Fatalf("%+v: Delay(%d) = %v is negative", e, attempt, d)
	}
	if e.Validate() != nil {
		return // only safety is promised
	}
	if d > e.Max {
		t.Fatalf("%+v: Delay(%d) = %v exceeds Max", e, attempt, d)
	}
	plain := e
	plain.Jitter = retry.NoJitter
	base := plain.Delay(attempt)
	switch e.Jitter {
	case retry.NoJitter:
		if d < e.Initial {
			t.Fatalf("%+v: Delay(%d) = %v below Initial", e, attempt, d)
		}
		if attempt < math.MaxInt {
			if next := e.Delay(attempt + 1); next < d {
				t.Fatalf("%+v: Delay(%d) = %v < Delay(%d) = %v", e, attempt+1, next, attempt, d)
			}
		}
		if attempt > math.MinInt {
			if prev := e.Delay(attempt - 1); prev > d {
				t.Fatalf("%+v: Delay(%d) = %v > Delay(%d) = %v", e, attempt-1, prev, attempt, d)
			}
		}
	case retry.FullJitter:
		if d > base {
			t.Fatalf("%+v: Delay(%d) = %v outside [0, %v]", e, attempt, d, base)
		}
	case retry.EqualJitter:
		if d < base/2 || d > base {
			t.Fatalf("%+v: Delay(%d) = %v outside [%v, %v]", e, attempt, d, base/2, base)
		}
	case retry.DecorrelatedJitter:
		prev := e.Initial
		if attempt > 1 {
			prev = plain.Delay(attempt - 1)
		}
		hi := e.Max
		if prev <= e.Max/3 {
			hi = 3 * prev
		}
		if d < e.Initial || d > hi {
			t.Fatalf("%+v: Delay(%d) = %v outside [%v, %v]", e, attempt, d, e.Initial, hi)
		}
	}
}

// FuzzExponentialDelay: Delay is never negative, and without jitter never
// decreases with the attempt number; jittered delays stay in their bounds.
// The seed corpus runs with every go test.
func FuzzExponentialDelay(f *testing.F) {
	f.Add(int64(time.Minute), int64(6*time.Hour), 3.0, uint8(0), 5)
	f.Add(int64(time.Minute), int64(6*time.Hour), 3.0, uint8(0), 1_000_000)
	f.Add(int64(1), int64(math.MaxInt64), 2.0, uint8(0), math.MaxInt)
	f.Add(int64(1), int64(math.MaxInt64), 1.0000000001, uint8(0), 1<<40)
	f.Add(int64(time.Second), int64(time.Minute), 1.5, uint8(1), 7)
	f.Add(int64(time.Second), int64(time.Minute), 1.5, uint8(2), 7)
	f.Add(int64(time.Second), int64(time.Minute), 1.5, uint8(3), 7)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), math.MaxFloat64, uint8(3), math.MaxInt)
	f.Add(int64(0), int64(0), 0.0, uint8(0), 0)
	f.Add(int64(-5), int64(-1), -2.0, uint8(9), math.MinInt)
	f.Add(int64(time.Second), int64(time.Hour), math.NaN(), uint8(0), 3)
	f.Add(int64(time.Second), int64(time.Hour), math.Inf(1), uint8(1), 3)
	f.Fuzz(func(t *testing.T, initial, maxDelay int64, factor float64, jitter uint8, attempt int) {
		e := retry.Exponential{
			Initial: time.Duration(initial),
			Max:     time.Duration(maxDelay),
			Factor:  factor,
			Jitter:  retry.Jitter(jitter % 5), // 4 is an undefined strategy
		}
		checkDelayProperties(t, e, attempt)
	})
}

// TestExponentialProperties runs the fuzz properties over many random valid
// settings and attempt numbers from a fixed seed, so they are exercised in
// every run, not only while fuzzing.
func TestExponentialProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	factors := []float64{1, 1 + 1e-12, 1.0001, 1.1, 1.5, 2, 3, 10, 1e10, math.MaxFloat64}
	for range 5_000 {
		initial := time.Duration(r.Int64N(int64(time.Hour))) + 1
		e := retry.Exponential{
			Initial: initial,
			Max:     initial + time.Duration(r.Int64N(math.MaxInt64-int64(initial))),
			Factor:  factors[r.IntN(len(factors))] * (1 + r.Float64()),
			Jitter:  retry.Jitter(r.IntN(4)),
		}
		for _, attempt := range []int{1, 2, 1 + r.IntN(100), r.Int(), math.MaxInt} {
			checkDelayProperties(t, e, attempt)
		}
		// The whole early schedule, where rounding matters most.
		e.Jitter = retry.NoJitter
		prev := time.Duration(0)
		for attempt := 1; attempt <= 200; attempt++ {
			d := e.Delay(attempt)
			if d < prev {
				t.Fatalf("%+v: Delay(%d) = %v < Delay(%d) = %v", e, attempt, d, attempt-1, prev)
			}
			prev = d
		}
	}
}
