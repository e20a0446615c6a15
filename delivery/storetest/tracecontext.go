package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

// W3C trace context values the suite stores.
const (
	traceParentA = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traceStateA  = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	traceParentB = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
)

// A message's trace context (TraceParent, TraceState) is stored and read
// back by Get, List and Claim; a message without one takes the enqueuing
// context's (delivery.WithTraceContext), its own winning; a message
// enqueued outside any trace stores none; a malformed trace context in the
// enqueuing context is dropped without costing the record; a message's
// own malformed trace context is refused with ErrInvalid and nothing of
// the call is stored; an existing record keeps its trace context when a
// duplicate comes from another trace.
func testTraceContext(t *testing.T, h *harness) {
	reqCtx := delivery.WithTraceContext(h.ctx, traceParentA, traceStateA)
	res, err := h.store.Enqueue(reqCtx,
		delivery.Message{ID: "from-ctx", IdempotencyKey: "k-ctx", Payload: payload("from-ctx")},
		delivery.Message{ID: "own", TraceParent: traceParentB, Payload: payload("own")},
	)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, traceParentA, res[0].Record.TraceParent, "the context's trace fills an empty one")
	assert.Equal(t, traceStateA, res[0].Record.TraceState)
	assert.Equal(t, traceParentB, res[1].Record.TraceParent, "a message's own trace wins")
	assert.Empty(t, res[1].Record.TraceState, "and the context's state does not join another trace")

	none := h.enqueue(delivery.Message{ID: "none", Payload: payload("none")})[0]
	assert.Empty(t, none.TraceParent, "enqueued outside any trace: nothing stored")
	assert.Empty(t, none.TraceState)

	// A malformed trace context in the enqueuing context is not the
	// caller's input: the record is stored, untraced (or without the bad
	// state alone).
	bad, err := h.store.Enqueue(delivery.WithTraceContext(h.ctx, "00-not-a-traceparent", traceStateA),
		delivery.Message{ID: "bad-ctx", Payload: payload("bad-ctx")})
	require.NoError(t, err, "a malformed traceparent in ctx never costs a record")
	assert.Empty(t, bad[0].Record.TraceParent)
	assert.Empty(t, bad[0].Record.TraceState)
	badState, err := h.store.Enqueue(delivery.WithTraceContext(h.ctx, traceParentA, "Not Valid=\x01"),
		delivery.Message{ID: "bad-state", Payload: payload("bad-state")})
	require.NoError(t, err)
	assert.Equal(t, traceParentA, badState[0].Record.TraceParent)
	assert.Empty(t, badState[0].Record.TraceState, "the malformed state is dropped alone")

	for _, m := range []delivery.Message{
		{ID: "own-bad-parent", TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", Payload: payload("x")},
		{ID: "own-zero-trace", TraceParent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", Payload: payload("x")},
		{ID: "own-bad-state", TraceParent: traceParentA, TraceState: "=novalue", Payload: payload("x")},
		{ID: "own-state-alone", TraceState: traceStateA, Payload: payload("x")},
	} {
		_, err := h.store.Enqueue(h.ctx, delivery.Message{ID: "good-" + m.ID, Payload: payload("good")}, m)
		require.ErrorIs(t, err, delivery.ErrInvalid, "%s: a message's own trace context is validated", m.ID)
		_, err = h.store.Get(h.ctx, "good-"+m.ID)
		require.ErrorIs(t, err, delivery.ErrNotFound, "%s: a rejected batch stores nothing", m.ID)
	}

	// A duplicate enqueued from another trace returns the stored record
	// unchanged.
	h.clock.Advance(time.Second)
	dup, err := h.store.Enqueue(delivery.WithTraceContext(h.ctx, traceParentB, ""),
		delivery.Message{ID: "again", IdempotencyKey: "k-ctx", Payload: payload("from-ctx")})
	require.NoError(t, err)
	assert.True(t, dup[0].Existing)
	assert.Equal(t, traceParentA, dup[0].Record.TraceParent)

	// Every read path gives the trace context back.
	got := h.get("from-ctx")
	assert.Equal(t, traceParentA, got.TraceParent, "Get")
	assert.Equal(t, traceStateA, got.TraceState, "Get")
	page, err := h.store.List(h.ctx, delivery.ListOptions{State: delivery.StatePending, Limit: 100})
	require.NoError(t, err)
	listed := map[string]delivery.Record{}
	for _, r := range page.Records {
		listed[r.ID] = r
	}
	assert.Equal(t, traceParentA, listed["from-ctx"].TraceParent, "List")
	assert.Equal(t, traceStateA, listed["from-ctx"].TraceState, "List")
	assert.Equal(t, traceParentB, listed["own"].TraceParent, "List")
	claimed := map[string]delivery.Record{}
	for _, r := range h.claim(100) {
		claimed[r.ID] = r
	}
	require.Contains(t, claimed, "from-ctx")
	assert.Equal(t, traceParentA, claimed["from-ctx"].TraceParent, "Claim")
	assert.Equal(t, traceStateA, claimed["from-ctx"].TraceState, "Claim")
	assert.Empty(t, claimed["none"].TraceParent, "Claim")
}
