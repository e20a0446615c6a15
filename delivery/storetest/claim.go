package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func testClaimOldestDueFirst(t *testing.T, h *harness) {
	recs := h.enqueueN("r", "", 5) // due at t0, t0+1ms, ... in this order
	// Push r-0000 two minutes out: it is no longer the oldest due.
	c := h.claim(1)
	require.Equal(t, []string{"r-0000"}, ids(c))
	require.NoError(t, h.store.Reschedule(h.ctx, c[0].Lease(), h.clock.Now().Add(2*time.Minute), nil))

	got := h.claim(3)
	assert.Equal(t, []string{"r-0001", "r-0002", "r-0003"}, ids(got), "oldest due first, limit honoured")
	for _, r := range got {
		assert.Equal(t, delivery.StateInFlight, r.State)
		assert.NotEmpty(t, r.LeaseToken)
		sameTime(t, h.clock.Now().Add(time.Minute), r.LeaseExpiresAt, "lease expiry")
		assert.Equal(t, delivery.StateInFlight, h.get(r.ID).State)
	}
	last := h.claim(10)
	assert.Equal(t, []string{"r-0004"}, ids(last))
	assert.Empty(t, h.claim(10), "r-0000 is not due yet")
	for _, r := range append(got, last...) {
		require.NoError(t, h.store.Complete(h.ctx, r.Lease(), h.attempt(classify.ClassOK, 200, ""), false))
	}

	h.clock.Advance(2 * time.Minute)
	assert.Equal(t, []string{"r-0000"}, ids(h.claim(10)), "due once its time comes")
	assert.Len(t, recs, 5)
}

func testClaimRejectsBadInput(t *testing.T, h *harness) {
	h.enqueueN("r", "", 1)
	for _, tc := range []struct {
		limit int
		lease time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {1, 0}, {1, -time.Second}} {
		_, err := h.store.Claim(h.ctx, tc.limit, tc.lease)
		assert.ErrorIs(t, err, delivery.ErrInvalid, "limit %d lease %v", tc.limit, tc.lease)
	}
	assert.EqualValues(t, 1, h.stats().Count(delivery.StatePending), "rejected claims change nothing")
}

func testPerKeyOrdering(t *testing.T, h *harness) {
	h.enqueue(
		delivery.Message{ID: "a1", Key: "A", Payload: payload("a1")},
		delivery.Message{ID: "b1", Key: "B", Payload: payload("b1")},
		delivery.Message{ID: "a2", Key: "A", Payload: payload("a2")},
		delivery.Message{ID: "u1", Payload: payload("u1")},
		delivery.Message{ID: "a3", Key: "A", Payload: payload("a3")},
		delivery.Message{ID: "u2", Payload: payload("u2")},
	)
	first := h.claim(10)
	assert.ElementsMatch(t, []string{"a1", "b1", "u1", "u2"}, ids(first), "one record per key, unkeyed records freely")
	assert.Empty(t, h.claim(10), "a2 waits while a1 is in flight")

	ok := h.attempt(classify.ClassOK, 200, "")
	for _, r := range first {
		require.NoError(t, h.store.Complete(h.ctx, r.Lease(), ok, false))
	}
	next := h.claim(10)
	require.Equal(t, []string{"a2"}, ids(next), "completing a1 lets a2 through")

	// a2 fails and waits to retry: it holds back a3.
	fail := h.attempt(classify.ClassEphemeral, 503, "ephemeral: http 503")
	require.NoError(t, h.store.Reschedule(h.ctx, next[0].Lease(), h.clock.Now().Add(time.Minute), &fail))
	assert.Empty(t, h.claim(10), "a record waiting to retry holds back later records of its key")

	// Released (not retried) records also keep their place.
	h.clock.Advance(time.Minute)
	again := h.claim(10)
	require.Equal(t, []string{"a2"}, ids(again))
	require.NoError(t, h.store.Release(h.ctx, again[0].Lease()))
	again = h.claim(10)
	require.Equal(t, []string{"a2"}, ids(again), "a released record is still first in its key")

	// Dead-lettering a2 releases the key.
	require.NoError(t, h.store.DeadLetter(h.ctx, again[0].Lease(), h.attempt(classify.ClassPermanent, 400, "permanent")))
	last := h.claim(10)
	require.Equal(t, []string{"a3"}, ids(last))
	// Discarding releases it too (nothing is behind a3, but the key must be
	// usable again for new records).
	require.NoError(t, h.store.Discard(h.ctx, last[0].Lease(), h.attempt(classify.ClassDiscard, 422, "invalid")))
	h.enqueue(delivery.Message{ID: "a4", Key: "A", Payload: payload("a4")})
	assert.Equal(t, []string{"a4"}, ids(h.claim(10)))
}

func testLeaseExpiryAndFencing(t *testing.T, h *harness) {
	h.enqueueN("r", "K", 2)
	c1, err := h.store.Claim(h.ctx, 5, 30*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"r-0000"}, ids(c1))

	h.clock.Advance(29 * time.Second)
	assert.Empty(t, h.claim(5), "lease still held")

	h.clock.Advance(2 * time.Second) // the worker crashed: the lease expires
	c2 := h.claim(5)
	require.Equal(t, []string{"r-0000"}, ids(c2), "an expired lease makes the record claimable again, still first in its key")
	assert.NotEqual(t, c1[0].LeaseToken, c2[0].LeaseToken)

	ok := h.attempt(classify.ClassOK, 200, "")
	err = h.store.Complete(h.ctx, c1[0].Lease(), ok, false)
	assert.ErrorIs(t, err, delivery.ErrLeaseLost, "the slow first worker cannot overwrite the newer claim")
	assert.Equal(t, delivery.StateInFlight, h.get("r-0000").State)
	assert.Zero(t, h.get("r-0000").Attempts)

	require.NoError(t, h.store.Complete(h.ctx, c2[0].Lease(), ok, false))
	assert.Equal(t, delivery.StateDelivered, h.get("r-0000").State)

	// A lease that expired but was not taken over can still be settled by
	// its holder: the work was done and nobody else has it.
	c3, err := h.store.Claim(h.ctx, 5, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{"r-0001"}, ids(c3))
	h.clock.Advance(time.Minute)
	require.NoError(t, h.store.Complete(h.ctx, c3[0].Lease(), ok, false))
	assert.Empty(t, h.claim(5))
}

func testNextDue(t *testing.T, h *harness) {
	nd, ok := h.store.(delivery.NextDuer)
	if !ok {
		t.Skip("store does not implement delivery.NextDuer (optional)")
	}
	next := func() (time.Time, bool) {
		t.Helper()
		at, ok, err := nd.NextDue(h.ctx)
		require.NoError(t, err)
		return at, ok
	}
	_, ok = next()
	assert.False(t, ok, "an empty store has nothing due")

	h.enqueue(delivery.Message{ID: "a1", Key: "A", Payload: payload("a1")})
	at, ok := next()
	require.True(t, ok)
	sameTime(t, h.clock.Now(), at, "a new record is due now")

	c, err := h.store.Claim(h.ctx, 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, c, 1)
	at, ok = next()
	require.True(t, ok)
	sameTime(t, h.clock.Now().Add(30*time.Second), at, "an in-flight record may be due when its lease expires")

	// a1 waits to retry in 5 minutes; a2 behind it is blocked, so it does
	// not count even though its own NextAttemptAt is now.
	h.enqueue(delivery.Message{ID: "a2", Key: "A", Payload: payload("a2")})
	fail := h.attempt(classify.ClassEphemeral, 503, "x")
	retryAt := h.clock.Now().Add(5 * time.Minute)
	require.NoError(t, h.store.Reschedule(h.ctx, c[0].Lease(), retryAt, &fail))
	at, ok = next()
	require.True(t, ok)
	sameTime(t, retryAt, at, "blocked records of a waiting key are not due")

	h.enqueue(delivery.Message{ID: "u1", Payload: payload("u1")})
	at, ok = next()
	require.True(t, ok)
	sameTime(t, h.clock.Now(), at, "an unkeyed record is due now")

	h.clock.Advance(5 * time.Minute)
	for _, r := range h.claim(10) {
		require.NoError(t, h.store.Complete(h.ctx, r.Lease(), h.attempt(classify.ClassOK, 200, ""), false))
	}
	at, ok = next()
	require.True(t, ok, "a2 is the head now")
	assert.False(t, at.After(h.clock.Now()))
	for _, r := range h.claim(10) {
		require.NoError(t, h.store.Complete(h.ctx, r.Lease(), h.attempt(classify.ClassOK, 200, ""), false))
	}
	_, ok = next()
	assert.False(t, ok, "everything delivered: nothing due")
}
