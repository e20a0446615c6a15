package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func testSettleTransitions(t *testing.T, h *harness) {
	h.enqueueN("r", "", 6)
	recs := h.claim(6)
	require.Len(t, recs, 6)
	at := func(i int) delivery.Lease { return recs[i].Lease() }
	// Every answered attempt keeps its status and the partner's answer,
	// successful ones included: a partner answers a create with the id it
	// gave the resource, and a user must be able to read it back.
	ok := h.attempt(classify.ClassOK, 201, "")
	ok.Response = `{"id":"p-123","status":"created"}`
	dup := h.attempt(classify.ClassDuplicate, 409, "duplicate: http 409")
	dup.Response = `{"error":"exists","id":"p-77"}`
	eph := h.attempt(classify.ClassEphemeral, 503, "ephemeral: http 503 Service Unavailable")
	eph.Response = "<html>maintenance</html>"
	perm := h.attempt(classify.ClassPermanent, 400, "permanent: http 400 Bad Request")
	disc := h.attempt(classify.ClassDiscard, 422, "discard: candidate never completed")
	next := h.clock.Now().Add(3 * time.Minute)

	require.NoError(t, h.store.Complete(h.ctx, at(0), ok, false))
	require.NoError(t, h.store.Complete(h.ctx, at(1), dup, true))
	require.NoError(t, h.store.Reschedule(h.ctx, at(2), next, &eph))
	require.NoError(t, h.store.DeadLetter(h.ctx, at(3), perm))
	require.NoError(t, h.store.Discard(h.ctx, at(4), disc))
	require.NoError(t, h.store.Reschedule(h.ctx, at(5), next, nil))

	cases := []struct {
		id        string
		state     delivery.State
		attempts  int
		deferrals int
		last      delivery.Attempt
		dup       bool
	}{
		{"r-0000", delivery.StateDelivered, 1, 0, ok, false},
		{"r-0001", delivery.StateDelivered, 1, 0, dup, true},
		{"r-0002", delivery.StatePending, 1, 0, eph, false},
		{"r-0003", delivery.StateDead, 1, 0, perm, false},
		{"r-0004", delivery.StateDiscarded, 1, 0, disc, false},
		{"r-0005", delivery.StatePending, 0, 1, delivery.Attempt{}, false},
	}
	for _, tc := range cases {
		r := h.get(tc.id)
		assert.Equal(t, tc.state, r.State, tc.id)
		assert.Equal(t, tc.attempts, r.Attempts, tc.id)
		assert.Equal(t, tc.deferrals, r.Deferrals, tc.id)
		assert.Equal(t, tc.dup, r.Duplicate, tc.id)
		assert.Equal(t, tc.last.Class, r.LastAttempt.Class, tc.id)
		assert.Equal(t, tc.last.Status, r.LastAttempt.Status, tc.id)
		assert.Equal(t, tc.last.Error, r.LastAttempt.Error, tc.id)
		assert.Equal(t, tc.last.Response, r.LastAttempt.Response, tc.id)
		assert.Equal(t, tc.last.Duration, r.LastAttempt.Duration, tc.id)
		sameTime(t, tc.last.StartedAt, r.LastAttempt.StartedAt, tc.id+" last attempt start")
		assert.Empty(t, r.LeaseToken, tc.id+" holds no lease once settled")
		if tc.state == delivery.StatePending {
			sameTime(t, next, r.NextAttemptAt, tc.id+" next attempt")
		}
	}

	// A second deferral keeps the last real attempt, a real attempt after
	// it replaces it.
	h.clock.Advance(3 * time.Minute)
	again := h.claim(10)
	require.ElementsMatch(t, []string{"r-0002", "r-0005"}, ids(again))
	for _, r := range again {
		require.NoError(t, h.store.Reschedule(h.ctx, r.Lease(), h.clock.Now(), nil))
	}
	r := h.get("r-0002")
	assert.Equal(t, 1, r.Attempts)
	assert.Equal(t, 1, r.Deferrals)
	assert.Equal(t, eph.Error, r.LastAttempt.Error, "deferrals keep the last real attempt")
	assert.Equal(t, eph.Status, r.LastAttempt.Status, "deferrals keep the last real attempt's status")
	assert.Equal(t, eph.Response, r.LastAttempt.Response, "deferrals keep the last real attempt's response")

	// Release counts nothing and makes the record due now.
	again = h.claim(10)
	require.Len(t, again, 2)
	for _, r := range again {
		require.NoError(t, h.store.Release(h.ctx, r.Lease()))
	}
	r = h.get("r-0005")
	assert.Equal(t, delivery.StatePending, r.State)
	assert.Equal(t, 0, r.Attempts)
	assert.Equal(t, 2, r.Deferrals)
	sameTime(t, h.clock.Now(), r.NextAttemptAt, "released records are due now")
}

func testSettleRejectsStaleAndUnknown(t *testing.T, h *harness) {
	h.enqueueN("r", "", 1)
	c := h.claim(1)
	require.Len(t, c, 1)
	ok := h.attempt(classify.ClassOK, 200, "")
	l := c[0].Lease()
	require.NoError(t, h.store.Complete(h.ctx, l, ok, false))

	// Every settle call with a spent lease is refused and changes nothing.
	assert.ErrorIs(t, h.store.Complete(h.ctx, l, ok, false), delivery.ErrLeaseLost)
	assert.ErrorIs(t, h.store.Reschedule(h.ctx, l, h.clock.Now(), &ok), delivery.ErrLeaseLost)
	assert.ErrorIs(t, h.store.DeadLetter(h.ctx, l, ok), delivery.ErrLeaseLost)
	assert.ErrorIs(t, h.store.Discard(h.ctx, l, ok), delivery.ErrLeaseLost)
	assert.ErrorIs(t, h.store.Release(h.ctx, l), delivery.ErrLeaseLost)
	r := h.get("r-0000")
	assert.Equal(t, delivery.StateDelivered, r.State)
	assert.Equal(t, 1, r.Attempts)

	wrong := delivery.Lease{ID: "r-0000", Token: "not-the-token"}
	assert.ErrorIs(t, h.store.Complete(h.ctx, wrong, ok, false), delivery.ErrLeaseLost)
	empty := delivery.Lease{ID: "r-0000"}
	assert.ErrorIs(t, h.store.Release(h.ctx, empty), delivery.ErrLeaseLost)

	unknown := delivery.Lease{ID: "nope", Token: c[0].LeaseToken}
	assert.ErrorIs(t, h.store.Complete(h.ctx, unknown, ok, false), delivery.ErrNotFound)
	assert.ErrorIs(t, h.store.Release(h.ctx, unknown), delivery.ErrNotFound)
}
