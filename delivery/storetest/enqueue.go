package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
)

func testEnqueueAndGet(t *testing.T, h *harness) {
	created := time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)
	in := delivery.Message{
		ID: "m-1", Key: "order-7", Destination: "ats-acme", Payload: []byte(`{"candidate":1}`),
		Headers:        map[string]string{"X-Tenant": "acme"},
		IdempotencyKey: "idem-1", CorrelationID: "corr-1", CreatedAt: created,
	}
	r := h.enqueue(in)[0]
	got := h.get("m-1")
	for _, rec := range []delivery.Record{r, got} {
		assert.Equal(t, "m-1", rec.ID)
		assert.Equal(t, "order-7", rec.Key)
		assert.Equal(t, "ats-acme", rec.Destination)
		assert.Equal(t, in.Payload, rec.Payload)
		assert.Equal(t, in.Headers, rec.Headers)
		assert.Equal(t, "idem-1", rec.IdempotencyKey)
		assert.Equal(t, "corr-1", rec.CorrelationID)
		sameTime(t, created, rec.CreatedAt, "CreatedAt kept")
		assert.Equal(t, delivery.StatePending, rec.State)
		assert.Zero(t, rec.Attempts)
		assert.Zero(t, rec.Deferrals)
		sameTime(t, h.clock.Now(), rec.NextAttemptAt, "due at once")
		assert.True(t, rec.LastAttempt.StartedAt.IsZero(), "never attempted")
		assert.Positive(t, rec.Seq)
	}

	// The store owns its copy: changing the caller's slices changes nothing.
	in.Payload[0] = 'X'
	in.Headers["X-Tenant"] = "evil"
	got = h.get("m-1")
	assert.Equal(t, byte('{'), got.Payload[0])
	assert.Equal(t, "acme", got.Headers["X-Tenant"])

	// Missing ID and CreatedAt are filled in.
	r = h.enqueue(delivery.Message{Payload: payload("anon")})[0]
	assert.NotEmpty(t, r.ID)
	sameTime(t, h.clock.Now(), r.CreatedAt, "CreatedAt defaulted")
	assert.Equal(t, r.ID, h.get(r.ID).ID)

	_, err := h.store.Get(h.ctx, "no-such-id")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
}

func testEnqueueIdempotent(t *testing.T, h *harness) {
	first := h.enqueue(delivery.Message{ID: "a", IdempotencyKey: "k1", Payload: []byte("first")})[0]
	h.clock.Advance(time.Second)

	res, err := h.store.Enqueue(h.ctx,
		delivery.Message{ID: "b", IdempotencyKey: "k1", Payload: []byte("first")}, // same key, same payload
		delivery.Message{ID: "a", IdempotencyKey: "k1", Payload: []byte("first")}, // same id
		delivery.Message{ID: "c", IdempotencyKey: "k2", Payload: []byte("third")}, // new
		delivery.Message{ID: "d", IdempotencyKey: "k2", Payload: []byte("third")}, // same key as the previous one in this call
		delivery.Message{ID: "c", IdempotencyKey: "k2", Payload: []byte("third")}, // same id as an earlier one in this call
	)
	require.NoError(t, err)
	require.Len(t, res, 5)
	for i, want := range []struct {
		id       string
		existing bool
	}{{"a", true}, {"a", true}, {"c", false}, {"c", true}, {"c", true}} {
		assert.Equal(t, want.id, res[i].Record.ID, "result %d", i)
		assert.Equal(t, want.existing, res[i].Existing, "result %d", i)
	}
	got := h.get("a")
	assert.Equal(t, []byte("first"), got.Payload, "a duplicate enqueue changes nothing")
	assert.Equal(t, first.Seq, got.Seq)
	sameTime(t, first.UpdatedAt, got.UpdatedAt, "a duplicate enqueue does not touch the record")
	_, err = h.store.Get(h.ctx, "b")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
	_, err = h.store.Get(h.ctx, "d")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
	assert.EqualValues(t, 2, h.stats().Count(delivery.StatePending))

	// Idempotency holds after delivery too.
	recs := h.claim(10)
	require.Len(t, recs, 2)
	for _, r := range recs {
		require.NoError(t, h.store.Complete(h.ctx, r.Lease(), h.attempt(0, 200, ""), false))
	}
	res, err = h.store.Enqueue(h.ctx, delivery.Message{ID: "z", IdempotencyKey: "k1", Payload: []byte("first")})
	require.NoError(t, err)
	assert.True(t, res[0].Existing)
	assert.Equal(t, "a", res[0].Record.ID)
	assert.Equal(t, delivery.StateDelivered, res[0].Record.State)
}

// One event for several partners under one IdempotencyKey is one record
// per destination: a receiver recognises a resend per partner, so the
// key is scoped to (Destination, IdempotencyKey). Before, the second and
// third partner's records came back Existing, pointing at the first's,
// and those partners never got the event.
func testEnqueueIdempotentPerDestination(t *testing.T, h *harness) {
	event := []byte(`{"assessment":9001,"state":"completed"}`)
	msgs := []delivery.Message{
		{Destination: "ats", IdempotencyKey: "assessment-9001", Payload: event},
		{Destination: "crm", IdempotencyKey: "assessment-9001", Payload: event},
		{Destination: "webhook", IdempotencyKey: "assessment-9001", Payload: event},
		{IdempotencyKey: "assessment-9001", Payload: event}, // no destination is a destination of its own
	}
	res, err := h.store.Enqueue(h.ctx, msgs...)
	require.NoError(t, err)
	require.Len(t, res, len(msgs))
	seen := map[string]bool{}
	for i, r := range res {
		assert.False(t, r.Existing, "message %d (destination %q) is new", i, msgs[i].Destination)
		assert.Equal(t, msgs[i].Destination, r.Record.Destination, "message %d", i)
		assert.False(t, seen[r.Record.ID], "message %d got a record of its own", i)
		seen[r.Record.ID] = true
		assert.Equal(t, msgs[i].Destination, h.get(r.Record.ID).Destination)
	}
	assert.EqualValues(t, len(msgs), h.stats().Count(delivery.StatePending), "one record per destination")

	// The same destination and key again, in a later call and twice within
	// one call, is the existing record of that destination.
	h.clock.Advance(time.Second)
	again, err := h.store.Enqueue(h.ctx, msgs[1], msgs[2], msgs[2],
		delivery.Message{Destination: "billing", IdempotencyKey: "assessment-9001", Payload: event})
	require.NoError(t, err)
	require.Len(t, again, 4)
	for i, want := range []struct {
		id       string
		existing bool
	}{{res[1].Record.ID, true}, {res[2].Record.ID, true}, {res[2].Record.ID, true}, {"", false}} {
		assert.Equal(t, want.existing, again[i].Existing, "result %d", i)
		if want.id != "" {
			assert.Equal(t, want.id, again[i].Record.ID, "result %d", i)
		}
	}
	assert.Equal(t, "billing", again[3].Record.Destination)
	assert.EqualValues(t, len(msgs)+1, h.stats().Count(delivery.StatePending))

	// Every destination's record is claimed and delivered on its own.
	recs := h.claim(10)
	require.Len(t, recs, len(msgs)+1)
	dests := make([]string, len(recs))
	for i, r := range recs {
		dests[i] = r.Destination
	}
	assert.ElementsMatch(t, []string{"ats", "crm", "webhook", "", "billing"}, dests)
}

// An enqueue that matches a stored record, or an earlier message of the
// same call, but is not the same message is refused with ErrConflict
// (which wraps ErrInvalid), and nothing of the call is stored: the same
// destination and idempotency key with another payload, or the same ID
// with another destination, idempotency key or payload. Reusing a key for
// different data would otherwise drop that data without a word.
func testEnqueueConflict(t *testing.T, h *harness) {
	stored := h.enqueue(delivery.Message{ID: "s-1", Destination: "ats", IdempotencyKey: "k1", Payload: []byte(`{"v":1}`)})[0]
	h.clock.Advance(time.Second)
	fresh := delivery.Message{ID: "fresh", Payload: payload("fresh")}
	for _, tc := range []struct {
		name string
		msgs []delivery.Message
	}{
		{"same destination and key, other payload", []delivery.Message{fresh,
			{Destination: "ats", IdempotencyKey: "k1", Payload: []byte(`{"v":2}`)}}},
		{"same id, other payload", []delivery.Message{fresh,
			{ID: "s-1", Destination: "ats", IdempotencyKey: "k1", Payload: []byte(`{"v":2}`)}}},
		{"same id, other destination", []delivery.Message{fresh,
			{ID: "s-1", Destination: "crm", IdempotencyKey: "k1", Payload: []byte(`{"v":1}`)}}},
		{"same id, other idempotency key", []delivery.Message{fresh,
			{ID: "s-1", Destination: "ats", IdempotencyKey: "k2", Payload: []byte(`{"v":1}`)}}},
		{"same id, no idempotency key", []delivery.Message{fresh,
			{ID: "s-1", Destination: "ats", Payload: []byte(`{"v":1}`)}}},
		{"earlier message of the call, same key, other payload", []delivery.Message{fresh,
			{Destination: "crm", IdempotencyKey: "k9", Payload: []byte("one")},
			{Destination: "crm", IdempotencyKey: "k9", Payload: []byte("two")}}},
		{"earlier message of the call, same id, other destination", []delivery.Message{fresh,
			{ID: "x-1", Destination: "crm", Payload: []byte("one")},
			{ID: "x-1", Destination: "ats", Payload: []byte("one")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.store.Enqueue(h.ctx, tc.msgs...)
			require.Error(t, err)
			assert.ErrorIs(t, err, delivery.ErrConflict)
			assert.ErrorIs(t, err, delivery.ErrInvalid, "a conflict is bad input")
			for _, id := range []string{"fresh", "x-1"} {
				_, err = h.store.Get(h.ctx, id)
				assert.ErrorIs(t, err, delivery.ErrNotFound, "a refused call stores nothing (%s)", id)
			}
			got := h.get("s-1")
			assert.Equal(t, stored.Payload, got.Payload, "the stored record is unchanged")
			assert.Equal(t, "ats", got.Destination)
			sameTime(t, stored.UpdatedAt, got.UpdatedAt, "the stored record is not touched")
		})
	}
	assert.EqualValues(t, 1, h.stats().Count(delivery.StatePending))
}

func testEnqueueRejectsBadInput(t *testing.T, h *harness) {
	good := delivery.Message{ID: "good", Payload: payload("good")}
	bad := []struct {
		name    string
		msg     delivery.Message
		tooBig  bool
		mention string
	}{
		{"empty payload", delivery.Message{ID: "e", Payload: nil}, false, "empty payload"},
		{"oversized payload", delivery.Message{ID: "o", Payload: bytes.Repeat([]byte("x"), delivery.MaxPayloadBytes+1)}, true, "payload"},
		{"oversized key", delivery.Message{ID: "k", Key: strings.Repeat("k", delivery.MaxIDBytes+1), Payload: payload("k")}, true, "Key"},
		{"invalid utf8 id", delivery.Message{ID: "\xff\xfe", Payload: payload("u")}, false, "ID"},
		{"NUL in idempotency key", delivery.Message{ID: "n", IdempotencyKey: "a\x00b", Payload: payload("n")}, false, "IdempotencyKey"},
		{"too many headers", delivery.Message{ID: "h", Payload: payload("h"), Headers: manyHeaders(delivery.MaxHeaders + 1)}, true, "headers"},
		{"empty header name", delivery.Message{ID: "hn", Payload: payload("hn"), Headers: map[string]string{"": "v"}}, false, "header"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.store.Enqueue(h.ctx, good, tc.msg)
			require.Error(t, err)
			assert.ErrorIs(t, err, delivery.ErrInvalid)
			if tc.tooBig {
				assert.ErrorIs(t, err, delivery.ErrTooLarge)
			}
			assert.Contains(t, err.Error(), tc.mention)
			_, err = h.store.Get(h.ctx, "good")
			assert.ErrorIs(t, err, delivery.ErrNotFound, "a rejected batch stores nothing")
		})
	}
	assert.Zero(t, h.stats().Count(delivery.StatePending))
}

// A message without a CorrelationID takes the one in the enqueuing context
// (delivery.PrepareMessage); its own id wins; with neither it stays
// empty; an existing record is never changed by the context's id; and the
// context's id is validated like a message's own.
func testEnqueueCorrelationFromContext(t *testing.T, h *harness) {
	reqCtx := delivery.WithCorrelationID(h.ctx, "req-7")
	res, err := h.store.Enqueue(reqCtx,
		delivery.Message{ID: "from-ctx", IdempotencyKey: "k-ctx", Payload: payload("from-ctx")},
		delivery.Message{ID: "own", CorrelationID: "own-corr", Payload: payload("own")},
	)
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, "req-7", res[0].Record.CorrelationID, "the context's id fills an empty one")
	assert.Equal(t, "req-7", h.get("from-ctx").CorrelationID, "and is stored")
	assert.Equal(t, "own-corr", res[1].Record.CorrelationID, "a message's own id wins")
	assert.Equal(t, "own-corr", h.get("own").CorrelationID)

	none := h.enqueue(delivery.Message{ID: "none", IdempotencyKey: "k-none", Payload: payload("none")})[0]
	assert.Empty(t, none.CorrelationID, "no id anywhere: the store invents none")
	assert.Empty(t, h.get("none").CorrelationID)

	// Duplicates enqueued under another request's id return the stored
	// records unchanged.
	h.clock.Advance(time.Second)
	before := map[string]delivery.Record{"from-ctx": h.get("from-ctx"), "none": h.get("none")}
	otherCtx := delivery.WithCorrelationID(h.ctx, "req-8")
	res, err = h.store.Enqueue(otherCtx,
		delivery.Message{ID: "dup-idem", IdempotencyKey: "k-none", Payload: payload("none")},
		delivery.Message{ID: "from-ctx", IdempotencyKey: "k-ctx", Payload: payload("from-ctx")},
		delivery.Message{ID: "dup-idem-2", IdempotencyKey: "k-ctx", Payload: payload("from-ctx")},
	)
	require.NoError(t, err)
	require.Len(t, res, 3)
	for i, want := range []struct{ id, corr string }{{"none", ""}, {"from-ctx", "req-7"}, {"from-ctx", "req-7"}} {
		assert.True(t, res[i].Existing, "result %d", i)
		assert.Equal(t, want.id, res[i].Record.ID, "result %d", i)
		assert.Equal(t, want.corr, res[i].Record.CorrelationID, "result %d keeps its stored id", i)
	}
	for id, was := range before {
		got := h.get(id)
		assert.Equal(t, was.CorrelationID, got.CorrelationID, "%s unchanged", id)
		assert.Equal(t, was.Seq, got.Seq, "%s unchanged", id)
		sameTime(t, was.UpdatedAt, got.UpdatedAt, id+" not touched")
	}
	for _, id := range []string{"dup-idem", "dup-idem-2"} {
		_, err = h.store.Get(h.ctx, id)
		assert.ErrorIs(t, err, delivery.ErrNotFound, "%s was a duplicate", id)
	}

	// The context's id is checked like a message's own (it is sent as a
	// header value), but only when it is used.
	badCtx := delivery.WithCorrelationID(h.ctx, "req\r\nX-Injected: 1")
	_, err = h.store.Enqueue(badCtx, delivery.Message{ID: "bad-ctx", Payload: payload("bad-ctx")})
	assert.ErrorIs(t, err, delivery.ErrInvalid)
	if err != nil {
		assert.Contains(t, err.Error(), "CorrelationID")
	}
	_, err = h.store.Get(h.ctx, "bad-ctx")
	assert.ErrorIs(t, err, delivery.ErrNotFound, "a rejected message is not stored")
	res, err = h.store.Enqueue(badCtx, delivery.Message{ID: "own-2", CorrelationID: "own-corr-2", Payload: payload("own-2")})
	require.NoError(t, err)
	assert.Equal(t, "own-corr-2", res[0].Record.CorrelationID)
	assert.EqualValues(t, 4, h.stats().Count(delivery.StatePending))
}

func manyHeaders(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m["X-H-"+strings.Repeat("a", i%5)+string(rune('A'+i%26))+string(rune('a'+i/26))] = "v"
	}
	return m
}
