package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// kill claims every due record and dead-letters those in ids with the given
// class, completing the rest.
func (h *harness) kill(class classify.Class, idset ...string) {
	h.t.Helper()
	want := map[string]bool{}
	for _, id := range idset {
		want[id] = true
	}
	for _, r := range h.claim(1000) {
		if want[r.ID] {
			require.NoError(h.t, h.store.DeadLetter(h.ctx, r.Lease(), h.attempt(class, 400, class.String())))
		} else {
			require.NoError(h.t, h.store.Release(h.ctx, r.Lease()))
		}
	}
}

func testRedrive(t *testing.T, h *harness) {
	h.enqueue(
		delivery.Message{ID: "d1", Key: "K", Payload: payload("d1")},
		delivery.Message{ID: "p1", Payload: payload("p1")},
	)
	h.kill(classify.ClassPermanent, "d1")
	h.enqueue(delivery.Message{ID: "k2", Key: "K", Payload: payload("k2")})
	dead := h.get("d1")
	require.Equal(t, delivery.StateDead, dead.State)
	require.Equal(t, 1, dead.Attempts)

	// All or nothing: an unknown id or a record that is not dead refuses
	// the whole call.
	_, err := h.store.Redrive(h.ctx, "d1", "nope")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
	_, err = h.store.Redrive(h.ctx, "d1", "p1")
	assert.ErrorIs(t, err, delivery.ErrInvalid)
	assert.Equal(t, delivery.StateDead, h.get("d1").State, "a refused redrive changes nothing")

	assert.True(t, dead.RedrivenAt.IsZero(), "never redriven yet")
	h.clock.Advance(time.Hour)
	n, err := h.store.Redrive(h.ctx, "d1")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	r := h.get("d1")
	sameTime(t, h.clock.Now(), r.RedrivenAt, "RedrivenAt: a new delivery effort starts")
	sameTime(t, h.clock.Now(), r.EffortStartedAt(), "the effort starts at the redrive")
	assert.Equal(t, delivery.StatePending, r.State)
	assert.Zero(t, r.Attempts, "attempts reset")
	sameTime(t, h.clock.Now(), r.NextAttemptAt, "due now")
	assert.Greater(t, r.Seq, h.get("k2").Seq, "redriven records go to the back of their queue")
	assert.Equal(t, "permanent", r.LastAttempt.Error, "the last attempt is kept for forensics")

	// k2 was enqueued before the redrive, so it goes first in key K.
	got := h.claim(10)
	assert.ElementsMatch(t, []string{"p1", "k2"}, ids(got))
}

func testRedriveMatching(t *testing.T, h *harness) {
	h.enqueue(
		delivery.Message{ID: "a", Key: "K1", Destination: "crm", Payload: payload("a")},
		delivery.Message{ID: "b", Key: "K2", Destination: "crm", Payload: payload("b")},
		delivery.Message{ID: "c", Key: "K3", Destination: "ats", Payload: payload("c")},
		delivery.Message{ID: "d", Key: "K4", Destination: "ats", Payload: payload("d")},
		delivery.Message{ID: "live", Destination: "ats", Payload: payload("live")},
	)
	h.kill(classify.ClassPermanent, "a", "c")
	h.clock.Advance(time.Hour)
	cutoff := h.clock.Now()
	h.kill(classify.ClassEphemeral, "b", "d")

	n, err := h.store.RedriveMatching(h.ctx, delivery.Filter{Destination: "nobody"})
	require.NoError(t, err)
	assert.Zero(t, n)

	n, err = h.store.RedriveMatching(h.ctx, delivery.Filter{Destination: "ats", Classes: []classify.Class{classify.ClassEphemeral}})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, delivery.StatePending, h.get("d").State)

	n, err = h.store.RedriveMatching(h.ctx, delivery.Filter{UpdatedBefore: cutoff})
	require.NoError(t, err)
	assert.Equal(t, 2, n, "a and c died before the cutoff")
	assert.Equal(t, delivery.StateDead, h.get("b").State)

	n, err = h.store.RedriveMatching(h.ctx, delivery.Filter{Key: "K2"})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Zero(t, h.stats().Count(delivery.StateDead))
	assert.Equal(t, delivery.StatePending, h.get("live").State, "live records are never touched")
}
