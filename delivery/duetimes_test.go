package delivery

import (
	"math/rand/v2"
	"slices"
	"testing"
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
