package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// PairFactory returns two handles on one new, empty backend (two processes
// on one database, say), both reading the time only from now.
type PairFactory func(t *testing.T, now func() time.Time) (a, b delivery.Store)

// RunShared runs the cases that need two stores on one backend: a limit
// held in the store binds every handle on it. Each subtest gets a fresh
// backend and clock.
func RunShared(t *testing.T, newPair PairFactory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness, other delivery.Store)
	}{
		{"RateSharedByTwoStores", testRateShared},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &Clock{}
			h := &harness{t: t, clock: clock, ctx: context.Background()}
			var other delivery.Store
			h.store, other = newPair(t, clock.Now)
			tc.fn(t, h, other)
		})
	}
}

// setRate sets a destination's rate limit, failing the test on error.
func (h *harness) setRate(name string, rate float64, burst int) {
	h.t.Helper()
	require.NoError(h.t, h.store.SetDestinationLimits(h.ctx, name, delivery.DestinationLimits{Rate: rate, Burst: burst}))
}

// Burst records go at once; then one per 1/Rate, whatever the claims ask
// for; a destination without a limit is not held back by one that has.
func testRateBurst(t *testing.T, h *harness) {
	h.setRate("ats", 10, 3) // one per 100ms, 3 at once
	h.enqueueTo("ats", "", 20)
	h.enqueueTo("crm", "", 5)
	first := h.claim(20)
	assert.Equal(t, map[string]int{"ats": 3, "crm": 5}, byDestination(first), "burst 3 for ats, crm unbounded")
	assert.Empty(t, h.claim(20), "no token left")

	h.clock.Advance(99 * time.Millisecond)
	assert.Empty(t, h.claim(20), "the next token is due after 100ms")
	h.clock.Advance(time.Millisecond)
	assert.Len(t, h.claim(20), 1, "one token after 100ms")

	h.clock.Advance(250 * time.Millisecond)
	assert.Len(t, h.claim(20), 2, "two tokens after 250ms more")
	h.clock.Advance(10 * time.Second)
	assert.Len(t, h.claim(20), 3, "an idle spell refills the burst, never more")

	d := h.destination("ats")
	assert.InDelta(t, 10.0, d.Rate, 1e-9)
	assert.Equal(t, 3, d.Burst)
}

// Rate limits change at run time, and zero lifts them.
func testRateChange(t *testing.T, h *harness) {
	h.setRate("ats", 1, 1)
	h.enqueueTo("ats", "", 10)
	assert.Len(t, h.claim(10), 1)
	assert.Empty(t, h.claim(10))
	h.setRate("ats", 0, 0)
	assert.Len(t, h.claim(10), 9, "zero lifts the limit at the next claim")
}

// A rate-limited destination with due records is next due when its next
// token is, not before.
func testRateNextDue(t *testing.T, h *harness) {
	nd, ok := h.store.(delivery.NextDuer)
	if !ok {
		t.Skip("the store does not implement delivery.NextDuer")
	}
	h.setRate("ats", 2, 1) // one per 500ms
	h.enqueueTo("ats", "", 3)
	start := h.clock.Now()
	require.Len(t, h.claim(10), 1)
	at, found, err := nd.NextDue(h.ctx)
	require.NoError(t, err)
	require.True(t, found)
	sameTime(t, start.Add(500*time.Millisecond), at, "due when the next token is")
}

// Rate limits outside their bounds are rejected and change nothing.
func testRateBadInput(t *testing.T, h *harness) {
	for _, l := range []delivery.DestinationLimits{
		{Rate: -1}, {Rate: delivery.MaxRate + 1}, {Rate: 0.0001}, {Rate: 1, Burst: -1},
		{Rate: 1, Burst: delivery.MaxBurst + 1}, {Burst: 5},
	} {
		err := h.store.SetDestinationLimits(h.ctx, "ats", l)
		require.ErrorIs(t, err, delivery.ErrInvalid, "%+v", l)
	}
	h.enqueueTo("ats", "", 3)
	assert.Len(t, h.claim(10), 3, "nothing was limited")
}

// Many racing claims on one store never exceed the burst.
func testRateConcurrent(t *testing.T, h *harness) {
	h.setRate("ats", 1, 4)
	h.enqueueTo("ats", "", 40)
	var mu sync.Mutex
	got := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			recs, err := h.store.Claim(h.ctx, 3, time.Minute)
			assert.NoError(t, err)
			mu.Lock()
			got += len(recs)
			mu.Unlock()
		})
	}
	wg.Wait()
	// A store may skip a destination another claim holds locked (as
	// PostgreSQL's SKIP LOCKED does) rather than wait, so under load the
	// claims racing the first can all come back empty: the first takes its
	// 3, and the burst's last token may be left for a later claim.
	assert.LessOrEqual(t, got, 4, "eight racing claims take the burst, no more")
	assert.GreaterOrEqual(t, got, 3, "the first claim takes its 3")
}

// Two handles on one backend share one limit: what one claims, the other
// cannot.
func testRateShared(t *testing.T, h *harness, other delivery.Store) {
	h.setRate("ats", 10, 2)
	h.enqueueTo("ats", "", 30)
	claimOther := func() int {
		recs, err := other.Claim(h.ctx, 10, time.Minute)
		require.NoError(t, err)
		return len(recs)
	}
	assert.Len(t, h.claim(10), 2, "the burst")
	assert.Zero(t, claimOther(), "the other handle sees the spent burst")
	total := 0
	for range 10 { // one second in 100ms steps: one token each
		h.clock.Advance(100 * time.Millisecond)
		total += claimOther() + len(h.claim(10))
	}
	assert.Equal(t, 10, total, "10/s between the two handles")
	require.NoError(t, other.SetDestinationLimits(h.ctx, "ats", delivery.DestinationLimits{Rate: 100, Burst: 5}))
	h.clock.Advance(time.Second)
	assert.Len(t, h.claim(10), 5, "a limit set through one handle binds the other")
}
