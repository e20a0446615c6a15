package delivery

import (
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestDueTimesYieldsTheNextTimeAfterNow(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	var h dueTimes
	var all []time.Time
	for range 200 {
		at := base.Add(time.Duration(rand.IntN(1000)) * time.Millisecond)
		h.push(at)
		all = append(all, at)
	}
	slices.SortFunc(all, time.Time.Compare)
	for _, now := range []time.Duration{-1, 0, 10, 250, 500, 999, 1000} {
		now := base.Add(now * time.Millisecond)
		want, ok := time.Time{}, false
		for _, at := range all {
			if at.After(now) {
				want, ok = at, true
				break
			}
		}
		got, gotOK := h.next(now)
		if got != want || gotOK != ok {
			t.Fatalf("next(%v) = %v, %v; want %v, %v", now, got, gotOK, want, ok)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d times left after the last", len(h))
	}
}

// A dueSignal keeps only the times within its horizon: a long outage's
// deferrals, one a record, are not held until they pass. Reading the
// earliest consumes nothing, so both of Run's listeners see it.
func TestDueSignalKeepsOnlyTimesWithinItsHorizon(t *testing.T) {
	s := newDueSignal(time.Second)
	now := time.Now()
	for i := range 10_000 {
		s.note(now.Add(time.Hour + time.Duration(i)*time.Millisecond))
	}
	s.note(now.Add(500 * time.Millisecond))
	s.note(now.Add(200 * time.Millisecond))
	if n := len(s.at); n != 2 {
		t.Fatalf("kept %d times, want the 2 within the horizon", n)
	}
	for range 2 { // read twice: the first read consumes nothing
		if got, ok := s.next(now); !ok || !got.Equal(now.Add(200*time.Millisecond)) {
			t.Fatalf("next = %v, %v; want the 200 ms time", got, ok)
		}
	}
	if got, ok := s.next(now.Add(300 * time.Millisecond)); !ok || !got.Equal(now.Add(500*time.Millisecond)) {
		t.Fatalf("next after 300 ms = %v, %v; want the 500 ms time", got, ok)
	}
}

// A dueSignal drops the times that have passed as it takes new ones:
// while every claim finds records, neither of Run's listeners reads it,
// and a long backlog's retries, one noted a retry, must not pile up.
func TestDueSignalDropsPassedTimesUnread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newDueSignal(time.Second)
		for range 10_000 {
			s.note(time.Now().Add(500 * time.Millisecond))
			time.Sleep(time.Millisecond)
		}
		if n := len(s.at); n > 501 {
			t.Fatalf("kept %d times; only those noted in the last 500 ms are still to come", n)
		}
	})
}
