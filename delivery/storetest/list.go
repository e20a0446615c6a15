package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func testListPaging(t *testing.T, h *harness) {
	var msgs []delivery.Message
	for i := range 250 {
		key := "even"
		if i%2 == 1 {
			key = "odd"
		}
		id := "r-" + pad(i)
		msgs = append(msgs, delivery.Message{ID: id, Key: key, Payload: payload(id)})
	}
	h.enqueue(msgs...)

	var all []string
	cursor := ""
	pages := 0
	for {
		p, err := h.store.List(h.ctx, delivery.ListOptions{Limit: 100, After: cursor})
		require.NoError(t, err)
		pages++
		all = append(all, ids(p.Records)...)
		for i := 1; i < len(p.Records); i++ {
			require.Less(t, p.Records[i-1].Seq, p.Records[i].Seq, "Seq order")
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
		require.LessOrEqual(t, pages, 10, "paging must end")
	}
	assert.Equal(t, 3, pages)
	require.Len(t, all, 250)
	for i, id := range all {
		require.Equal(t, "r-"+pad(i), id, "every record once, in order")
	}

	// Filters.
	p, err := h.store.List(h.ctx, delivery.ListOptions{Key: "odd", Limit: 1000})
	require.NoError(t, err)
	assert.Len(t, p.Records, 125)
	assert.Empty(t, p.Next)

	first := h.claim(1)
	require.NoError(t, h.store.DeadLetter(h.ctx, first[0].Lease(), h.attempt(classify.ClassPermanent, 400, "x")))
	p, err = h.store.List(h.ctx, delivery.ListOptions{State: delivery.StateDead})
	require.NoError(t, err)
	assert.Equal(t, ids(first), ids(p.Records))
	p, err = h.store.List(h.ctx, delivery.ListOptions{State: delivery.StatePending})
	require.NoError(t, err)
	assert.Len(t, p.Records, delivery.DefaultPageSize, "zero limit means the default page size")
	assert.NotEmpty(t, p.Next)

	for _, bad := range []delivery.ListOptions{
		{Limit: -1}, {Limit: delivery.MaxPageSize + 1}, {After: "not-a-cursor"}, {State: delivery.State(99)},
	} {
		_, err := h.store.List(h.ctx, bad)
		assert.ErrorIs(t, err, delivery.ErrInvalid, "%+v", bad)
	}
}

func pad(i int) string {
	s := []byte("0000")
	for j := 3; j >= 0 && i > 0; j-- {
		s[j] = byte('0' + i%10)
		i /= 10
	}
	return string(s)
}

func testStats(t *testing.T, h *harness) {
	st := h.stats()
	assert.Zero(t, st.OldestPending)
	assert.Zero(t, st.OldestDue)

	h.enqueueN("r", "", 6) // created t0 .. t0+5ms
	h.clock.Advance(10 * time.Second)
	recs := h.claim(5)
	require.Len(t, recs, 5)
	ok := h.attempt(classify.ClassOK, 200, "")
	require.NoError(t, h.store.Complete(h.ctx, recs[1].Lease(), ok, false))
	require.NoError(t, h.store.DeadLetter(h.ctx, recs[2].Lease(), ok))
	require.NoError(t, h.store.Discard(h.ctx, recs[3].Lease(), ok))
	require.NoError(t, h.store.Reschedule(h.ctx, recs[4].Lease(), h.clock.Now().Add(time.Hour), &ok))
	// r-0000 stays in flight, r-0005 is pending and due since t0+5ms.

	st = h.stats()
	assert.EqualValues(t, 2, st.Count(delivery.StatePending))
	assert.EqualValues(t, 1, st.Count(delivery.StateInFlight))
	assert.EqualValues(t, 1, st.Count(delivery.StateDelivered))
	assert.EqualValues(t, 1, st.Count(delivery.StateDead))
	assert.EqualValues(t, 1, st.Count(delivery.StateDiscarded))
	assert.Equal(t, 10*time.Second+6*time.Millisecond, st.OldestPending, "r-0000, created first, is still live")
	assert.Equal(t, 10*time.Second+time.Millisecond, st.OldestDue, "r-0005 has waited since it was enqueued")
}

func testPurge(t *testing.T, h *harness) {
	h.enqueue(
		delivery.Message{ID: "old-delivered", IdempotencyKey: "k-old", Payload: payload("1")},
		delivery.Message{ID: "old-discarded", Payload: payload("2")},
		delivery.Message{ID: "old-dead", Payload: payload("3")},
		delivery.Message{ID: "old-pending", Payload: payload("4")},
	)
	recs := h.claim(10)
	require.Len(t, recs, 4)
	byID := map[string]delivery.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	ok := h.attempt(classify.ClassOK, 200, "")
	require.NoError(t, h.store.Complete(h.ctx, byID["old-delivered"].Lease(), ok, false))
	require.NoError(t, h.store.Discard(h.ctx, byID["old-discarded"].Lease(), ok))
	require.NoError(t, h.store.DeadLetter(h.ctx, byID["old-dead"].Lease(), ok))
	require.NoError(t, h.store.Release(h.ctx, byID["old-pending"].Lease()))

	h.clock.Advance(48 * time.Hour)
	cutoff := h.clock.Now()
	h.enqueue(delivery.Message{ID: "new", Payload: payload("5")})
	c := h.claim(10)
	for _, r := range c {
		if r.ID == "new" {
			require.NoError(t, h.store.Complete(h.ctx, r.Lease(), ok, false))
		} else {
			require.NoError(t, h.store.Release(h.ctx, r.Lease()))
		}
	}

	_, err := h.store.Purge(h.ctx, cutoff, 0)
	assert.ErrorIs(t, err, delivery.ErrInvalid)

	n, err := h.store.Purge(h.ctx, cutoff, 1)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the limit bounds each batch")
	n, err = h.store.Purge(h.ctx, cutoff, 100)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	for _, id := range []string{"old-delivered", "old-discarded"} {
		_, err := h.store.Get(h.ctx, id)
		assert.ErrorIs(t, err, delivery.ErrNotFound, id)
	}
	for _, id := range []string{"old-dead", "old-pending", "new"} {
		_, err := h.store.Get(h.ctx, id)
		assert.NoError(t, err, "%s must survive", id)
	}
	res, err := h.store.Enqueue(h.ctx, delivery.Message{ID: "fresh", IdempotencyKey: "k-old", Payload: payload("6")})
	require.NoError(t, err)
	assert.False(t, res[0].Existing, "a purged record's idempotency key is forgotten")
}

func testListFilters(t *testing.T, h *harness) {
	h.enqueue(
		delivery.Message{ID: "a", Payload: payload("a")},
		delivery.Message{ID: "b", Payload: payload("b")},
		delivery.Message{ID: "c", Payload: payload("c")},
		delivery.Message{ID: "d", Payload: payload("d")},
	)
	t0 := h.clock.Now()
	recs, err := h.store.Claim(h.ctx, 4, time.Hour)
	require.NoError(t, err)
	require.Len(t, recs, 4)
	lease := map[string]delivery.Lease{}
	for _, r := range recs {
		lease[r.ID] = r.Lease()
	}
	require.NoError(t, h.store.Release(h.ctx, lease["d"])) // d changes at t0
	h.clock.Advance(time.Minute)
	require.NoError(t, h.store.DeadLetter(h.ctx, lease["a"], h.attempt(classify.ClassPermanent, 400, "permanent: http 400 invalid email")))
	h.clock.Advance(time.Minute)
	require.NoError(t, h.store.DeadLetter(h.ctx, lease["b"], h.attempt(classify.ClassPermanent, 410, "permanent: http 410 Gone")))
	h.clock.Advance(time.Minute)
	eph := h.attempt(classify.ClassEphemeral, 0, "ephemeral: read tcp: i/o timeout")
	require.NoError(t, h.store.Reschedule(h.ctx, lease["c"], h.clock.Now().Add(time.Hour), &eph))
	h.clock.Advance(time.Minute)

	list := func(o delivery.ListOptions) []string {
		t.Helper()
		p, err := h.store.List(h.ctx, o)
		require.NoError(t, err, "%+v", o)
		return ids(p.Records)
	}
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	cases := []struct {
		name string
		opts delivery.ListOptions
		want []string
	}{
		{"UpdatedAfter is inclusive", delivery.ListOptions{UpdatedAfter: at(1)}, []string{"a", "b", "c"}},
		{"UpdatedBefore is exclusive", delivery.ListOptions{UpdatedBefore: at(2)}, []string{"a", "d"}},
		{"a window", delivery.ListOptions{UpdatedAfter: at(1), UpdatedBefore: at(3)}, []string{"a", "b"}},
		{"an empty window", delivery.ListOptions{UpdatedAfter: at(3), UpdatedBefore: at(1)}, []string{}},
		{"error text", delivery.ListOptions{ErrorContains: "http 4"}, []string{"a", "b"}},
		{"error text, case matters", delivery.ListOptions{ErrorContains: "gone"}, []string{}},
		{"error text and state", delivery.ListOptions{ErrorContains: "i", State: delivery.StatePending}, []string{"c"}},
		{"error text no store holds", delivery.ListOptions{ErrorContains: "\xff\x00"}, []string{}},
		{"everything", delivery.ListOptions{State: delivery.StateDead, ErrorContains: "Gone", UpdatedAfter: at(2), UpdatedBefore: at(3)}, []string{"b"}},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, list(tc.opts), tc.name)
	}

	// Filters page like any listing.
	p, err := h.store.List(h.ctx, delivery.ListOptions{ErrorContains: "http 4", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, ids(p.Records))
	require.NotEmpty(t, p.Next)
	p, err = h.store.List(h.ctx, delivery.ListOptions{ErrorContains: "http 4", Limit: 1, After: p.Next})
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, ids(p.Records))
}
