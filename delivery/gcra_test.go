package delivery_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// maxInWindow returns the most of the sorted times ts that fall in any
// closed span of length w, and where that span starts.
func maxInWindow(ts []time.Duration, w time.Duration) (most int, at time.Duration) {
	j := 0
	for i := range ts {
		for ts[i]-ts[j] > w {
			j++
		}
		if n := i - j + 1; n > most {
			most, at = n, ts[j]
		}
	}
	return most, at
}

// checkRate fails the test if, over any span of length t, ts (sorted) hold
// more than burst + rate·t.
func checkRate(t *testing.T, ts []time.Duration, rate float64, burst int) {
	t.Helper()
	for i := range ts {
		for j := i; j < len(ts); j++ {
			span := (ts[j] - ts[i]).Seconds()
			if allowed := float64(burst) + rate*span; float64(j-i+1) > allowed+1e-9 {
				t.Fatalf("%d grants in %.6fs from %v: more than %d + %v·t = %.3f", j-i+1, span, ts[i], burst, rate, allowed)
			}
		}
	}
}

func TestGCRA(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n, tat := delivery.GCRA(time.Time{}, t0, 10, 3, 5)
	assert.Equal(t, 3, n, "an unused limit grants its burst")
	assert.Equal(t, t0.Add(300*time.Millisecond), tat)
	n, same := delivery.GCRA(tat, t0.Add(99*time.Millisecond), 10, 3, 5)
	assert.Zero(t, n, "no token before 100ms")
	assert.Equal(t, tat, same, "nothing granted, nothing moved")
	assert.Equal(t, t0.Add(100*time.Millisecond), delivery.GCRANext(tat, 10, 3), "the next token")
	n, _ = delivery.GCRA(tat, t0.Add(100*time.Millisecond), 10, 3, 5)
	assert.Equal(t, 1, n)
	n, tat = delivery.GCRA(time.Time{}, t0, 0, 0, 7)
	assert.Equal(t, 7, n, "no rate, no limit")
	assert.True(t, tat.IsZero())
	n, _ = delivery.GCRA(time.Time{}, t0, 10, 0, 5)
	assert.Equal(t, 1, n, "burst 0 counts as 1")
	n, _ = delivery.GCRA(time.Time{}, t0, 10, 3, 0)
	assert.Zero(t, n)
	assert.Equal(t, 333334*time.Microsecond, delivery.EmissionInterval(3), "rounded up to the microsecond: never faster")
}

// However claims come (sizes, times), GCRA grants at most burst + rate·t
// over any span t, and never refuses a claim that has a token.
func TestGCRANeverExceedsBurstPlusRate(t *testing.T) {
	for seed := range 20 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		rate := []float64{0.5, 3, 50, 1000}[seed%4]
		burst := 1 + rng.IntN(20)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		now, tat := t0, time.Time{}
		var grants []time.Duration
		for range 2000 {
			now = now.Add(time.Duration(rng.ExpFloat64() * float64(time.Second) / rate / 2))
			n, next := delivery.GCRA(tat, now, rate, burst, 1+rng.IntN(burst+2))
			if n == 0 {
				require.True(t, delivery.GCRANext(tat, rate, burst).After(now), "refused only without a token")
			}
			tat = next
			for range n {
				grants = append(grants, now.Sub(t0))
			}
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkRate(t, grants, rate, burst) })
	}
}

func TestValidateDestinationLimits(t *testing.T) {
	for _, l := range []delivery.DestinationLimits{{}, {MaxInFlight: 3}, {Rate: 20}, {Rate: 20, Burst: 5}, {Rate: delivery.MinRate}, {Rate: delivery.MaxRate, Burst: delivery.MaxBurst}} {
		assert.NoError(t, delivery.ValidateDestinationLimits(l), "%+v", l)
	}
	for _, l := range []delivery.DestinationLimits{{MaxInFlight: -1}, {Rate: -1}, {Rate: delivery.MaxRate * 2}, {Rate: delivery.MinRate / 2}, {Burst: 3}, {Rate: 1, Burst: -1}} {
		assert.ErrorIs(t, delivery.ValidateDestinationLimits(l), delivery.ErrInvalid, "%+v", l)
	}
}

// Three dispatchers on one store with a destination limited to 50/s,
// burst 10: the partner sees at most 10 + 50·t over any span t of 12s, and
// nearly that many; an unlimited destination alongside is not held back.
func TestRateHoldsAcrossDispatchers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			return 10 * time.Millisecond, nil
		})
		for i := range 1000 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("x-%04d", i), Destination: "x", Payload: pl("x")})
		}
		for i := range 200 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("y-%04d", i), Destination: "y", Payload: pl("y")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 3, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 16,
			Destinations: map[string]delivery.DestinationConfig{"x": {Rate: 50, Burst: 10}}})
		time.Sleep(12 * time.Second)
		cancel()
		wg.Wait()
		got := partners.requests("x")
		checkRate(t, got, 50, 10)
		assert.GreaterOrEqual(t, len(got), 10+50*12-5, "the limit is used, not just respected")
		assert.Len(t, partners.received("y"), 200, "y is not bound by x's limit")
		most, _ := maxInWindow(got, time.Second)
		assert.LessOrEqual(t, most, 60)
	})
}
