package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// tally is the dispatcher's Observer here: it counts what happened, for the
// live progress and the summary. Ephemeral failures are counted by cause,
// not logged one by one.
type tally struct {
	attempts atomic.Int64 // attempts that counted: the partner was tried
	actions  [delivery.ActionRelease + 1]atomic.Int64

	mu     sync.Mutex
	causes map[string]int // causes of retried (ephemeral) attempts
}

func newTally() *tally { return &tally{causes: make(map[string]int)} }

func (t *tally) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if e.Attempted && e.Attempt.Class.CountsAttempt() {
		t.attempts.Add(1)
	}
	if int(e.Action) < len(t.actions) {
		t.actions[e.Action].Add(1)
	}
	if e.Attempted && e.Attempt.Class == classify.ClassEphemeral {
		t.mu.Lock()
		t.causes[e.Cause]++
		t.mu.Unlock()
	}
}

func (t *tally) ObserveRun(context.Context, delivery.Report) {}

func (t *tally) count(a delivery.Action) int { return int(t.actions[a].Load()) }

func (t *tally) retryCauses() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.causes)
}

// progress shows the backlog settling: a bar redrawn in place on a
// terminal, or a line every half second otherwise.
type progress struct {
	w       io.Writer
	mode    string
	total   int
	start   time.Time
	last    time.Time
	drawn   bool
	partner func() string // the sender's view of the partner: "up", "down", ...
}

// show renders the current state; final forces a line in lines mode and
// ends the bar.
func (p *progress) show(st delivery.Stats, t *tally, final bool) {
	settled := int(st.Count(delivery.StateDelivered) + st.Count(delivery.StateDiscarded) + st.Count(delivery.StateDead))
	elapsed := time.Since(p.start)
	switch p.mode {
	case progressBar:
		const width = 30
		filled := width * settled / max(p.total, 1)
		bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
		fmt.Fprintf(p.w, "\r\x1b[K  [%s] %d/%d  delivered %d · discarded %d · dead %d · retries %d · deferred %d · partner %s · %.1fs",
			bar, settled, p.total, st.Count(delivery.StateDelivered), st.Count(delivery.StateDiscarded), st.Count(delivery.StateDead),
			t.count(delivery.ActionRetry), t.count(delivery.ActionDefer), p.partner(), elapsed.Seconds())
		p.drawn = true
		if final {
			fmt.Fprintln(p.w)
		}
	case progressLines:
		if !final && time.Since(p.last) < 500*time.Millisecond {
			return
		}
		p.last = time.Now()
		fmt.Fprintf(p.w, "  %5.1fs  %d/%d settled: %d delivered, %d discarded, %d dead-lettered; %d retries, %d deferred; partner %s\n",
			elapsed.Seconds(), settled, p.total, st.Count(delivery.StateDelivered), st.Count(delivery.StateDiscarded),
			st.Count(delivery.StateDead), t.count(delivery.ActionRetry), t.count(delivery.ActionDefer), p.partner())
	}
}
