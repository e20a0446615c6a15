package main

import (
	"slices"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
)

// window is a pause of a destination, as the dispatcher reported it.
type window struct {
	from, until time.Time
	causes      []string
}

// pauseWindows turns a destination's changes into the windows during which
// it was paused: a pause from when it was seen until its end, merged with
// the pauses it overlaps (a pause extended), cut short by a resume, and
// clipped to end. A disable lasts until end. Once a pause ends, a probe is
// due: it is not sent while paused.
func pauseWindows(changes []destinationChange, end time.Time) []window {
	var ws []window
	for _, c := range changes {
		if c.StoreErr != nil {
			continue // not recorded: not paused
		}
		n := len(ws)
		switch c.Change {
		case delivery.DestinationPausedChange, delivery.DestinationDisabledChange:
			until := c.Until
			if c.Change == delivery.DestinationDisabledChange {
				until = end
			}
			if n > 0 && !c.at.After(ws[n-1].until) {
				ws[n-1].until = maxTime(ws[n-1].until, until)
				if !slices.Contains(ws[n-1].causes, c.Cause) {
					ws[n-1].causes = append(ws[n-1].causes, c.Cause)
				}
				continue
			}
			ws = append(ws, window{from: c.at, until: maxTime(until, c.at), causes: []string{c.Cause}})
		case delivery.DestinationResumedChange:
			if n > 0 && ws[n-1].until.After(c.at) {
				ws[n-1].until = c.at
			}
		}
	}
	out := ws[:0]
	for _, w := range ws {
		if !w.from.Before(end) {
			continue
		}
		if w.until.After(end) {
			w.until = end
		}
		out = append(out, w)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sentAt is when the request was built (sentHeader), or when it arrived
// if it does not say.
func sentAt(r deliverytest.Request) time.Time {
	if ns, err := strconv.ParseInt(r.Header.Get(sentHeader), 10, 64); err == nil {
		return time.Unix(0, ns)
	}
	return r.Received
}

// duringPauses counts the requests that arrived during one of the pauses:
// those sent after the pause began (whilePaused: the dispatcher should
// send none), and those sent before, already on their way when it began.
// The probe sent when a pause ends is not during it.
func duringPauses(reqs []deliverytest.Request, pauses []window) (whilePaused, onTheirWay int) {
	for _, r := range reqs {
		for _, w := range pauses {
			if r.Received.Before(w.from) || !r.Received.Before(w.until) {
				continue
			}
			if sentAt(r).Before(w.from) {
				onTheirWay++
			} else {
				whilePaused++
			}
		}
	}
	return whilePaused, onTheirWay
}
