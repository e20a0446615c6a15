package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// failOnce claims the one due record, which must be id, and reschedules it
// with a, due at once.
func (h *harness) failOnce(id string, a delivery.Attempt) {
	h.t.Helper()
	recs := h.claim(1)
	require.Len(h.t, recs, 1)
	require.Equal(h.t, id, recs[0].ID)
	require.NoError(h.t, h.store.Reschedule(h.ctx, recs[0].Lease(), h.clock.Now(), &a))
	h.clock.Advance(time.Second)
}

// sameAttempt asserts a store gave back attempt want as got.
func sameAttempt(t *testing.T, want, got delivery.Attempt, what string) {
	t.Helper()
	sameTime(t, want.StartedAt, got.StartedAt, what+": StartedAt")
	assert.Equal(t, want.Duration, got.Duration, what+": Duration")
	assert.Equal(t, want.Status, got.Status, what+": Status")
	assert.Equal(t, want.Class, got.Class, what+": Class")
	assert.Equal(t, want.Error, got.Error, what+": Error")
	assert.Equal(t, want.Response, got.Response, what+": Response")
	assert.Equal(t, want.Channel, got.Channel, what+": Channel")
}

// testHistoryKeepsChannel: each settled attempt's Channel is kept in the
// history, and a record's LastAttempt has the channel of its newest
// attempt, read by Get and by List.
func testHistoryKeepsChannel(t *testing.T, h *harness) {
	h.enqueue(delivery.Message{ID: "c1", Payload: payload("c1")})
	first := h.attempt(classify.ClassEphemeral, 503, "failover: channel \"primary\": ephemeral: http 503")
	first.Channel = "primary"
	h.failOnce("c1", first)
	recs := h.claim(1)
	require.Len(t, recs, 1)
	second := h.attempt(classify.ClassOK, 201, "")
	second.Channel = "backup"
	require.NoError(t, h.store.Complete(h.ctx, recs[0].Lease(), second, false))

	r := h.get("c1")
	require.Len(t, r.History, 2)
	sameAttempt(t, first, r.History[0], "History[0]")
	sameAttempt(t, second, r.History[1], "History[1]")
	sameAttempt(t, second, r.LastAttempt, "LastAttempt")
	page, err := h.store.List(h.ctx, delivery.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	assert.Equal(t, []string{"primary", "backup"}, []string{page.Records[0].History[0].Channel, page.Records[0].History[1].Channel})
	assert.Equal(t, "backup", page.Records[0].LastAttempt.Channel)
}

func testHistoryInOrder(t *testing.T, h *harness) {
	h.enqueue(delivery.Message{ID: "h1", Payload: payload("h1")})
	var want []delivery.Attempt
	for i := range 3 {
		a := h.attempt(classify.ClassEphemeral, 500+i, fmt.Sprintf("ephemeral: http %d", 500+i))
		a.Response = fmt.Sprintf(`{"try":%d}`, i)
		h.failOnce("h1", a)
		want = append(want, a)
	}
	// A deferral is not an attempt: it adds nothing.
	recs := h.claim(1)
	require.Len(t, recs, 1)
	require.NoError(t, h.store.Reschedule(h.ctx, recs[0].Lease(), h.clock.Now(), nil))
	recs = h.claim(1)
	require.Len(t, recs, 1)
	last := h.attempt(classify.ClassPermanent, 400, "permanent: http 400 <script>alert(1)</script>")
	require.NoError(t, h.store.DeadLetter(h.ctx, recs[0].Lease(), last))
	want = append(want, last)

	r := h.get("h1")
	require.Len(t, r.History, len(want), "every attempt, none for the deferral")
	for i := range want {
		sameAttempt(t, want[i], r.History[i], fmt.Sprintf("History[%d]", i))
	}
	sameAttempt(t, r.LastAttempt, r.History[len(r.History)-1], "the history ends with LastAttempt")

	page, err := h.store.List(h.ctx, delivery.ListOptions{})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	require.Len(t, page.Records[0].History, len(want), "List returns the history too")
	sameAttempt(t, want[0], page.Records[0].History[0], "listed History[0]")

	// A record never attempted has no history.
	h.enqueue(delivery.Message{ID: "h2", Payload: payload("h2")})
	assert.Empty(t, h.get("h2").History)
}

func testHistoryBounded(t *testing.T, h *harness) {
	// By count: the latest DefaultHistoryAttempts, oldest dropped first.
	h.enqueue(delivery.Message{ID: "n", Payload: payload("n")})
	total := delivery.DefaultHistoryAttempts + 3
	for i := range total {
		h.failOnce("n", h.attempt(classify.ClassEphemeral, 500, fmt.Sprintf("try %d", i)))
	}
	r := h.get("n")
	assert.Equal(t, total, r.Attempts, "every attempt is counted")
	require.Len(t, r.History, delivery.DefaultHistoryAttempts)
	for i, a := range r.History {
		assert.Equal(t, fmt.Sprintf("try %d", total-delivery.DefaultHistoryAttempts+i), a.Error)
	}
	recs := h.claim(1)
	require.Len(t, recs, 1)
	require.NoError(t, h.store.Complete(h.ctx, recs[0].Lease(), h.attempt(classify.ClassOK, 200, ""), false))

	// By size: attempts with the largest texts a store keeps fill
	// DefaultHistoryBytes after a few.
	h.enqueue(delivery.Message{ID: "big", Payload: payload("big")})
	for i := range 8 {
		a := h.attempt(classify.ClassEphemeral, 503, fmt.Sprintf("%02d", i)+strings.Repeat("e", delivery.MaxErrorText-2))
		a.Response = strings.Repeat("r", delivery.MaxResponseText)
		h.failOnce("big", a)
	}
	big := h.get("big")
	size := 0
	for _, a := range big.History {
		size += delivery.AttemptSize(a)
	}
	fits := delivery.DefaultHistoryBytes / (delivery.MaxErrorText + delivery.MaxResponseText + delivery.AttemptOverhead)
	require.Len(t, big.History, fits, "as many as fit in DefaultHistoryBytes")
	assert.LessOrEqual(t, size, delivery.DefaultHistoryBytes)
	assert.Equal(t, fmt.Sprintf("%02d", 8-fits), big.History[0].Error[:2], "the oldest are dropped")
	assert.Equal(t, "07", big.History[fits-1].Error[:2], "the newest is kept")
}

func testHistorySurvivesRedrive(t *testing.T, h *harness) {
	h.enqueue(delivery.Message{ID: "rd", Payload: payload("rd")})
	recs := h.claim(1)
	require.Len(t, recs, 1)
	dead := h.attempt(classify.ClassPermanent, 410, "permanent: http 410 Gone")
	require.NoError(t, h.store.DeadLetter(h.ctx, recs[0].Lease(), dead))
	h.clock.Advance(time.Hour)
	n, err := h.store.Redrive(h.ctx, "rd")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	r := h.get("rd")
	assert.Zero(t, r.Attempts, "a redrive resets the attempts")
	require.Len(t, r.History, 1, "but keeps the history")
	sameAttempt(t, dead, r.History[0], "the attempt before the redrive")

	recs = h.claim(1)
	require.Len(t, recs, 1)
	ok := h.attempt(classify.ClassOK, 200, "")
	ok.Response = `{"id":"p-1"}`
	require.NoError(t, h.store.Complete(h.ctx, recs[0].Lease(), ok, false))
	r = h.get("rd")
	require.Len(t, r.History, 2)
	sameAttempt(t, dead, r.History[0], "before the redrive")
	sameAttempt(t, ok, r.History[1], "after it")
}

// HistoryFactory returns a new, empty store that reads the time only from
// now and bounds each record's history with h.
type HistoryFactory func(t *testing.T, now func() time.Time, h delivery.History) delivery.Store

// RunHistoryBounds checks that a store honours the History bounds it was
// configured with: a count, a size, and no history at all.
func RunHistoryBounds(t *testing.T, newStore HistoryFactory) {
	cases := []struct {
		name    string
		history delivery.History
		want    []string // the errors kept, oldest first
	}{
		{"MaxAttempts", delivery.History{MaxAttempts: 2}, []string{"e3", "e4"}},
		// Three attempts of 2 bytes each fit in 3*(2+overhead), a fourth
		// does not.
		{"MaxBytes", delivery.History{MaxBytes: 3 * (2 + delivery.AttemptOverhead)}, []string{"e2", "e3", "e4"}},
		{"None", delivery.History{MaxAttempts: -1}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &Clock{}
			h := &harness{t: t, clock: clock, ctx: context.Background()}
			h.store = newStore(t, clock.Now, tc.history)
			h.enqueue(delivery.Message{ID: "b", Payload: payload("b")})
			for i := range 5 {
				h.failOnce("b", h.attempt(classify.ClassEphemeral, 500, fmt.Sprintf("e%d", i)))
			}
			r := h.get("b")
			assert.Equal(t, 5, r.Attempts)
			var got []string
			for _, a := range r.History {
				got = append(got, a.Error)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, "e4", r.LastAttempt.Error, "LastAttempt is kept whatever the history")
		})
	}
}
