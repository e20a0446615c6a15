package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// enqueueTo stores n messages for destination dest, ids dest-0..dest-(n-1),
// each a millisecond after the previous, with the given key.
func (h *harness) enqueueTo(dest, key string, n int) []delivery.Record {
	h.t.Helper()
	out := make([]delivery.Record, 0, n)
	for i := range n {
		id := fmt.Sprintf("%s-%04d", dest, i)
		out = append(out, h.enqueue(delivery.Message{ID: id, Destination: dest, Key: key, Payload: payload(id)})...)
		h.clock.Advance(time.Millisecond)
	}
	return out
}

func (h *harness) destination(name string) delivery.Destination {
	h.t.Helper()
	ds, err := h.store.Destinations(h.ctx)
	require.NoError(h.t, err)
	for _, d := range ds {
		if d.Name == name {
			return d
		}
	}
	h.t.Fatalf("destination %q not listed", name)
	return delivery.Destination{}
}

func (h *harness) pause(_ context.Context, name string, p delivery.Pause) delivery.Destination {
	h.t.Helper()
	d, err := h.store.PauseDestination(h.ctx, name, p)
	require.NoError(h.t, err)
	assert.Equal(h.t, name, d.Name)
	return d
}

func (h *harness) complete(recs ...delivery.Record) {
	h.t.Helper()
	for _, r := range recs {
		require.NoError(h.t, h.store.Complete(h.ctx, r.Lease(), h.attempt(classify.ClassOK, 200, ""), false))
	}
}

func byDestination(recs []delivery.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[r.Destination]++
	}
	return out
}

// A pause holds a destination's records back from every claim until it
// ends; then one record at a time is handed out as the probe until the
// destination is resumed; other destinations are never held.
func testDestinationPause(t *testing.T, h *harness) {
	h.enqueueTo("ats", "", 3)
	h.enqueueTo("crm", "", 2)
	start := h.clock.Now()
	h.pause(h.ctx, "ats", delivery.Pause{Until: start.Add(30 * time.Second), Cause: "http_429", Reason: "429 Too Many Requests, Retry-After: 30"})

	got := h.claim(10)
	assert.Equal(t, map[string]int{"crm": 2}, byDestination(got), "a paused destination's records are not claimed")
	h.complete(got...)
	d := h.destination("ats")
	assert.Equal(t, delivery.DestinationPaused, d.Status)
	assert.Equal(t, "http_429", d.Cause)
	assert.Equal(t, 1, d.Pauses)
	sameTime(t, start.Add(30*time.Second), d.PausedUntil, "paused until")
	sameTime(t, start, d.PausedSince, "paused since")

	h.clock.Advance(29 * time.Second)
	assert.Empty(t, h.claim(10), "never early")
	h.clock.Advance(time.Second)
	probe := h.claim(10)
	require.Len(t, probe, 1, "one probe at a time once the pause ends")
	assert.True(t, probe[0].Probe, "the record is marked as the probe")
	assert.Equal(t, "ats-0000", probe[0].ID, "oldest first")
	assert.Equal(t, delivery.DestinationProbing, h.destination("ats").Status)
	assert.Empty(t, h.claim(10), "no second probe while one is in flight")

	ok, err := h.store.ResumeAfterProbe(h.ctx, "ats")
	require.NoError(t, err)
	assert.True(t, ok)
	h.complete(probe...)
	d = h.destination("ats")
	assert.Equal(t, delivery.DestinationActive, d.Status)
	assert.Zero(t, d.Pauses)
	assert.Empty(t, d.Cause)
	rest := h.claim(10)
	assert.Len(t, rest, 2, "resumed: the rest is claimable at once")
	for _, r := range rest {
		assert.False(t, r.Probe)
	}
}

// A pause never ends earlier than one already recorded, and a probe's
// success does not resume a destination paused again meanwhile.
func testDestinationPauseNeverShortens(t *testing.T, h *harness) {
	h.enqueueTo("ats", "", 2)
	now := h.clock.Now()
	h.pause(h.ctx, "ats", delivery.Pause{Until: now.Add(time.Minute), Cause: "http_503"})
	h.pause(h.ctx, "ats", delivery.Pause{Until: now.Add(10 * time.Second), Cause: "conn_refused"})
	d := h.destination("ats")
	sameTime(t, now.Add(time.Minute), d.PausedUntil, "the later end wins")
	assert.Equal(t, "http_503", d.Cause, "with its cause")
	assert.Equal(t, 1, d.Pauses, "a failure during a running pause is not another pause")
	h.clock.Advance(30 * time.Second)
	assert.Empty(t, h.claim(10))

	h.clock.Advance(30 * time.Second)
	probe := h.claim(10)
	require.Len(t, probe, 1)
	h.pause(h.ctx, "ats", delivery.Pause{Until: h.clock.Now().Add(time.Minute), Cause: "dns"})
	ok, err := h.store.ResumeAfterProbe(h.ctx, "ats")
	require.NoError(t, err)
	assert.False(t, ok, "paused again by another process: the probe does not resume it")
	assert.Equal(t, delivery.DestinationPaused, h.destination("ats").Status)
	ok, err = h.store.ResumeAfterProbe(h.ctx, "crm")
	require.NoError(t, err)
	assert.False(t, ok, "an unknown destination is not resumed")
}

// Pause.Length grows a pause with the destination's pause count, whichever
// caller paused it before.
func testDestinationPauseLength(t *testing.T, h *harness) {
	length := func(n int) time.Duration { return time.Duration(n) * 10 * time.Second }
	now := h.clock.Now()
	d := h.pause(h.ctx, "ats", delivery.Pause{Until: now.Add(time.Second), Cause: "dns", Length: length})
	sameTime(t, now.Add(10*time.Second), d.PausedUntil, "first pause: Length(1)")
	d = h.pause(h.ctx, "ats", delivery.Pause{Until: now.Add(time.Second), Cause: "dns", Length: length})
	sameTime(t, now.Add(10*time.Second), d.PausedUntil, "a burst of failures during the pause: still Length(1)")
	assert.Equal(t, 1, d.Pauses)
	h.clock.Advance(10 * time.Second) // the pause ends; the probe fails
	now = h.clock.Now()
	d = h.pause(h.ctx, "ats", delivery.Pause{Until: now.Add(time.Second), Cause: "dns", Length: length})
	sameTime(t, now.Add(20*time.Second), d.PausedUntil, "the next pause: Length(2)")
	assert.Equal(t, 2, d.Pauses)
	d = h.pause(h.ctx, "ats", delivery.Pause{Until: now.Add(time.Hour), Cause: "http_429", Length: length})
	sameTime(t, now.Add(time.Hour), d.PausedUntil, "Until wins when later")
}

// A disabled destination is never claimed until a person resumes it; a
// pause does not lift a disable.
func testDestinationDisable(t *testing.T, h *harness) {
	h.enqueueTo("gone", "", 2)
	h.enqueueTo("ok", "", 1)
	require.NoError(t, h.store.DisableDestination(h.ctx, "gone", "gone", "410 Gone: endpoint removed"))
	h.pause(h.ctx, "gone", delivery.Pause{Until: h.clock.Now().Add(time.Second), Cause: "http_503"})
	h.clock.Advance(time.Hour)
	got := h.claim(10)
	assert.Equal(t, map[string]int{"ok": 1}, byDestination(got))
	d := h.destination("gone")
	assert.Equal(t, delivery.DestinationDisabled, d.Status)
	assert.Equal(t, "gone", d.Cause)
	assert.Contains(t, d.Reason, "410 Gone")
	assert.EqualValues(t, 2, d.Pending, "its records wait, none lost")

	require.NoError(t, h.store.ResumeDestination(h.ctx, "gone"))
	assert.Equal(t, delivery.DestinationActive, h.destination("gone").Status)
	assert.Len(t, h.claim(10), 2)
	assert.ErrorIs(t, h.store.ResumeDestination(h.ctx, "never-seen"), delivery.ErrNotFound)
}

// Bad input is a clear error and changes nothing; pausing a destination
// with no records is defined: it is remembered.
func testDestinationBadInput(t *testing.T, h *harness) {
	now := h.clock.Now()
	for _, tc := range []struct {
		name string
		p    delivery.Pause
	}{
		{"ats", delivery.Pause{Until: now.Add(-time.Second), Cause: "x"}},
		{"ats", delivery.Pause{Until: now, Cause: "x"}},
		{"ats", delivery.Pause{Until: now.Add(time.Second)}},
		{strings.Repeat("d", delivery.MaxDestinationName+1), delivery.Pause{Until: now.Add(time.Second), Cause: "x"}},
		{"bad\x00name", delivery.Pause{Until: now.Add(time.Second), Cause: "x"}},
	} {
		_, err := h.store.PauseDestination(h.ctx, tc.name, tc.p)
		assert.ErrorIs(t, err, delivery.ErrInvalid, "%q %+v", tc.name, tc.p)
	}
	assert.ErrorIs(t, h.store.DisableDestination(h.ctx, "ats", "", "why"), delivery.ErrInvalid, "a cause is required")
	assert.ErrorIs(t, h.store.SetDestinationLimits(h.ctx, "ats", delivery.DestinationLimits{MaxInFlight: -1}), delivery.ErrInvalid)
	ds, err := h.store.Destinations(h.ctx)
	require.NoError(t, err)
	assert.Empty(t, ds, "rejected calls stored nothing")

	h.pause(h.ctx, "empty", delivery.Pause{Until: now.Add(time.Minute), Cause: "operator"})
	d := h.destination("empty")
	assert.Equal(t, delivery.DestinationPaused, d.Status)
	assert.Zero(t, d.Pending)
	h.enqueueTo("empty", "", 1)
	assert.Empty(t, h.claim(10), "records enqueued during the pause wait for it")
}

// MaxInFlight counts every unexpired lease in the store, whoever holds it;
// an expired lease no longer counts.
func testDestinationMaxInFlight(t *testing.T, h *harness) {
	require.NoError(t, h.store.SetDestinationLimits(h.ctx, "ats", delivery.DestinationLimits{MaxInFlight: 2}))
	h.enqueueTo("ats", "", 5)
	h.enqueueTo("crm", "", 3)
	first := h.claim(10)
	assert.Equal(t, map[string]int{"ats": 2, "crm": 3}, byDestination(first))
	assert.Empty(t, h.claim(10), "ats is at its limit")
	assert.Equal(t, 2, h.destination("ats").MaxInFlight)
	assert.EqualValues(t, 2, h.destination("ats").InFlight)

	var ats []delivery.Record
	for _, r := range first {
		if r.Destination == "ats" {
			ats = append(ats, r)
		}
	}
	h.complete(ats[0])
	assert.Equal(t, map[string]int{"ats": 1}, byDestination(h.claim(10)), "a settle frees one slot")

	h.clock.Advance(time.Minute) // every lease expires
	again := h.claim(10)
	assert.Equal(t, 2, byDestination(again)["ats"], "expired leases do not count; still at most 2")
	require.NoError(t, h.store.SetDestinationLimits(h.ctx, "ats", delivery.DestinationLimits{}))
	assert.Equal(t, 2, byDestination(h.claim(10))["ats"], "zero lifts the bound")
}

// MaxInFlight holds when many claimers race (goroutines here; the
// PostgreSQL store's tests also race processes).
func testDestinationMaxInFlightConcurrent(t *testing.T, h *harness) {
	require.NoError(t, h.store.SetDestinationLimits(h.ctx, "ats", delivery.DestinationLimits{MaxInFlight: 3}))
	h.enqueueTo("ats", "", 40)
	var mu sync.Mutex
	var got []delivery.Record
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			recs, err := h.store.Claim(h.ctx, 4, time.Minute)
			assert.NoError(t, err)
			mu.Lock()
			got = append(got, recs...)
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Len(t, got, 3, "eight racing claims lease at most MaxInFlight")
}

// One claim is spread over the destinations with due records, so a large
// backlog for one never delays another's few.
func testDestinationFairClaim(t *testing.T, h *harness) {
	h.enqueueTo("big", "", 50)
	h.enqueueTo("small", "", 3)
	h.enqueueTo("tiny", "", 1)
	got := h.claim(3)
	assert.Equal(t, map[string]int{"big": 1, "small": 1, "tiny": 1}, byDestination(got), "one per destination per round, not the 3 oldest")
	h.complete(got...)
	got = h.claim(5)
	assert.Equal(t, map[string]int{"big": 3, "small": 2}, byDestination(got), "the rest of small within the next claim")
	h.complete(got...)
	assert.Equal(t, map[string]int{"big": 4}, byDestination(h.claim(4)), "big alone keeps the whole claim")

	h.enqueueTo("late", "", 2)
	got, err := h.store.Claim(h.ctx, 10, time.Minute, "big")
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"late": 2}, byDestination(got), "skipped destinations are not claimed")
}

// Per-key ordering is scoped to the destination: one event fanned out to
// three destinations under one Key never makes one wait for another.
func testPerKeyOrderingPerDestination(t *testing.T, h *harness) {
	for i := range 3 {
		for _, d := range []string{"a", "b", "c"} {
			id := fmt.Sprintf("%s-%d", d, i)
			h.enqueue(delivery.Message{ID: id, Destination: d, Key: "event", Payload: payload(id)})
		}
		h.clock.Advance(time.Millisecond)
	}
	heads := h.claim(10)
	assert.ElementsMatch(t, []string{"a-0", "b-0", "c-0"}, ids(heads), "one head per (destination, key)")
	for _, r := range heads {
		if r.Destination == "c" { // c fails: its head waits a retry
			require.NoError(t, h.store.Reschedule(h.ctx, r.Lease(), h.clock.Now().Add(time.Hour), &delivery.Attempt{Class: classify.ClassEphemeral, Status: 503}))
		} else {
			h.complete(r)
		}
	}
	assert.ElementsMatch(t, []string{"a-1", "b-1"}, ids(h.claim(10)), "c's waiting head holds back only c")
}

// Destinations lists every destination with records or stored state, with
// its figures.
func testDestinationFigures(t *testing.T, h *harness) {
	created := h.clock.Now()
	h.enqueueTo("ats", "", 3)
	h.enqueueTo("", "", 1)
	got := h.claim(1)
	require.Len(t, got, 1)
	require.NoError(t, h.store.DeadLetter(h.ctx, got[0].Lease(), h.attempt(classify.ClassPermanent, 400, "bad")))
	c := h.claim(1)
	require.Len(t, c, 1)
	h.clock.Advance(time.Minute)

	ds, err := h.store.Destinations(h.ctx)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, "", ds[0].Name, "sorted by name; the default destination is listed")
	ats := h.destination("ats")
	assert.Equal(t, delivery.DestinationActive, ats.Status)
	var pending, inFlight, dead int64
	for _, d := range ds {
		pending += d.Pending
		inFlight += d.InFlight
		dead += d.Dead
	}
	assert.Equal(t, [3]int64{2, 1, 1}, [3]int64{pending, inFlight, dead})
	assert.Equal(t, h.clock.Now().Sub(created), ats.OldestPending, "age of its oldest live record")
	assert.EqualValues(t, 1, ats.InFlight)
	assert.EqualValues(t, 2, ats.Pending)
}

// Operators cancel pending records and make waiting ones due now; both are
// all or nothing and refuse records that are not pending.
func testCancelAndRetryNow(t *testing.T, h *harness) {
	h.enqueueTo("ats", "k", 2) // ats-0000 heads key k, ats-0001 waits behind it
	h.enqueueTo("crm", "", 1)
	c := h.claim(10)
	require.Len(t, c, 2)
	for _, r := range c {
		require.NoError(t, h.store.Reschedule(h.ctx, r.Lease(), h.clock.Now().Add(time.Hour), &delivery.Attempt{Class: classify.ClassEphemeral, Status: 503}))
	}
	_, err := h.store.Cancel(h.ctx, "ats-0000", "nope")
	assert.ErrorIs(t, err, delivery.ErrNotFound)
	assert.Equal(t, delivery.StatePending, h.get("ats-0000").State, "all or nothing")

	n, err := h.store.RetryNow(h.ctx, "crm-0000")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got := h.claim(10)
	assert.Equal(t, []string{"crm-0000"}, ids(got), "due now, ahead of its retry time")
	assert.Equal(t, 1, got[0].Attempts, "attempts kept")
	_, err = h.store.RetryNow(h.ctx, "crm-0000")
	assert.ErrorIs(t, err, delivery.ErrInvalid, "in flight is not pending")

	n, err = h.store.Cancel(h.ctx, "ats-0000")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	r := h.get("ats-0000")
	assert.Equal(t, delivery.StateDiscarded, r.State)
	assert.NotEmpty(t, r.LastAttempt.Error)
	assert.Equal(t, 1, r.Attempts, "cancelling spends no attempt")
	assert.Equal(t, []string{"ats-0001"}, ids(h.claim(10)), "the next record of its key is let through")
}

// List filters by destination.
func testListByDestination(t *testing.T, h *harness) {
	h.enqueueTo("ats", "", 3)
	h.enqueueTo("crm", "", 2)
	page, err := h.store.List(h.ctx, delivery.ListOptions{Destination: "crm"})
	require.NoError(t, err)
	assert.Equal(t, []string{"crm-0000", "crm-0001"}, ids(page.Records))
	page, err = h.store.List(h.ctx, delivery.ListOptions{Destination: "ats", Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"ats-0000", "ats-0001"}, ids(page.Records))
	require.NotEmpty(t, page.Next)
	page, err = h.store.List(h.ctx, delivery.ListOptions{Destination: "ats", Limit: 2, After: page.Next})
	require.NoError(t, err)
	assert.Equal(t, []string{"ats-0002"}, ids(page.Records))
}

// NextDue sees the end of a pause: a dispatcher sleeps until then, not a
// poll interval, and not past it.
func testNextDueSeesPauses(t *testing.T, h *harness) {
	nd, ok := h.store.(delivery.NextDuer)
	if !ok {
		t.Skip("the store does not implement delivery.NextDuer")
	}
	h.enqueueTo("ats", "", 1)
	until := h.clock.Now().Add(45 * time.Second)
	h.pause(h.ctx, "ats", delivery.Pause{Until: until, Cause: "http_429"})
	at, found, err := nd.NextDue(h.ctx)
	require.NoError(t, err)
	require.True(t, found)
	sameTime(t, until, at, "due when the pause ends")
	require.NoError(t, h.store.DisableDestination(h.ctx, "ats", "gone", ""))
	_, found, err = nd.NextDue(h.ctx)
	require.NoError(t, err)
	assert.False(t, found, "a disabled destination is never due")
}
