package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// tally is the dispatcher's Observer here: it counts what happened, for the
// live progress and the summary, and keeps every pause, resume and disable
// of a destination with the time it was seen. Ephemeral failures are
// counted by cause, not logged one by one.
type tally struct {
	actions [delivery.ActionRelease + 1]atomic.Int64

	mu      sync.Mutex
	causes  map[string]int        // causes of retried (ephemeral) attempts
	dests   map[string]*destTally // by destination
	changes []destinationChange   // in the order seen
}

// destTally counts one destination's outcomes.
type destTally struct {
	sent     int // the deliverer was called: a request was made (or refused at the door)
	deferred int // put back without spending an attempt: the destination was paused
	retries  int
}

// destinationChange is a DestinationEvent and when it was seen.
type destinationChange struct {
	delivery.DestinationEvent
	at time.Time
}

func newTally() *tally {
	return &tally{causes: make(map[string]int), dests: make(map[string]*destTally)}
}

func (t *tally) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if int(e.Action) < len(t.actions) {
		t.actions[e.Action].Add(1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.dest(e.Record.Destination)
	if e.Attempted {
		d.sent++
	}
	switch e.Action {
	case delivery.ActionDefer:
		d.deferred++
	case delivery.ActionRetry:
		d.retries++
	}
	if e.Attempted && e.Attempt.Class == classify.ClassEphemeral && e.Action != delivery.ActionDefer {
		t.causes[e.Cause]++
	}
}

// ObserveDestination keeps every pause, resume and disable.
func (t *tally) ObserveDestination(_ context.Context, e delivery.DestinationEvent) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.changes = append(t.changes, destinationChange{DestinationEvent: e, at: now})
}

func (t *tally) ObserveRun(context.Context, delivery.Report) {}

// dest returns name's counts; callers hold t.mu.
func (t *tally) dest(name string) *destTally {
	d := t.dests[name]
	if d == nil {
		d = &destTally{}
		t.dests[name] = d
	}
	return d
}

func (t *tally) count(a delivery.Action) int { return int(t.actions[a].Load()) }

func (t *tally) retryCauses() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.causes)
}

// destination returns a copy of name's counts.
func (t *tally) destination(name string) destTally {
	t.mu.Lock()
	defer t.mu.Unlock()
	return *t.dest(name)
}

// destinationChanges returns name's pauses, resumes and disables in the
// order they were seen.
func (t *tally) destinationChanges(name string) []destinationChange {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []destinationChange
	for _, c := range t.changes {
		if c.Destination == name {
			out = append(out, c)
		}
	}
	return out
}

// progress shows the backlog settling: a bar redrawn in place on a
// terminal, or a line every half second otherwise.
type progress struct {
	w     io.Writer
	mode  string
	total int
	start time.Time
	last  time.Time
}

// show renders the current state; final forces a line in lines mode and
// ends the bar.
func (p *progress) show(st delivery.Stats, dests []delivery.Destination, t *tally, final bool) {
	settled := int(st.Count(delivery.StateDelivered) + st.Count(delivery.StateDiscarded) + st.Count(delivery.StateDead))
	elapsed := time.Since(p.start)
	switch p.mode {
	case progressBar:
		const width = 30
		filled := width * settled / max(p.total, 1)
		bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
		fmt.Fprintf(p.w, "\r\x1b[K  [%s] %d/%d  delivered %d · discarded %d · dead %d · retries %d · deferred %d · %s · %.1fs",
			bar, settled, p.total, st.Count(delivery.StateDelivered), st.Count(delivery.StateDiscarded), st.Count(delivery.StateDead),
			t.count(delivery.ActionRetry), t.count(delivery.ActionDefer), held(dests), elapsed.Seconds())
		if final {
			fmt.Fprintln(p.w)
		}
	case progressLines:
		if !final && time.Since(p.last) < 500*time.Millisecond {
			return
		}
		p.last = time.Now()
		fmt.Fprintf(p.w, "  %5.1fs  %d/%d settled: %d delivered, %d discarded, %d dead-lettered; %d retries, %d deferred; %s\n",
			elapsed.Seconds(), settled, p.total, st.Count(delivery.StateDelivered), st.Count(delivery.StateDiscarded),
			st.Count(delivery.StateDead), t.count(delivery.ActionRetry), t.count(delivery.ActionDefer), states(dests))
	}
}

// states describes the destinations as the outbox knows them: "ats
// active, crm paused (http_429), webhooks active".
func states(dests []delivery.Destination) string {
	byName := make(map[string]delivery.Destination, len(dests))
	for _, d := range dests {
		byName[d.Name] = d
	}
	parts := make([]string, 0, len(destinations))
	for _, name := range destinations {
		d, ok := byName[name]
		switch {
		case !ok || d.Status == delivery.DestinationActive || d.Status == 0:
			parts = append(parts, name+" active")
		case d.Cause != "" && d.Status != delivery.DestinationProbing:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", name, d.Status, d.Cause))
		default:
			parts = append(parts, fmt.Sprintf("%s %s", name, d.Status))
		}
	}
	return strings.Join(parts, ", ")
}

// held names the destinations that are not active, for the bar: "paused:
// crm, webhooks", or "none paused".
func held(dests []delivery.Destination) string {
	var names []string
	for _, d := range dests {
		if d.Status != delivery.DestinationActive && d.Status != 0 {
			names = append(names, d.Name)
		}
	}
	if len(names) == 0 {
		return "none paused"
	}
	slices.Sort(names)
	return "paused: " + strings.Join(names, ", ")
}
