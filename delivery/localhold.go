package delivery

import (
	"slices"
	"time"
)

// A pause the store did not take.
//
// A destination's pause (or disable) is state in the store: claims of
// every process skip it until it ends, and then one record across the
// fleet probes the partner. When the store fails to write it (the
// statement times out, the connection drops), the store keeps handing the
// destination's records out; and since a destination fault spends no
// attempt, each record would go straight back to the partner that is
// down. So the process that heard the fault holds the destination itself,
// as the store would have: a local hold. Its claims skip the destination
// until the hold ends, the records it has in hand wait until then, and
// then one record probes the partner while the claims go on skipping the
// destination. A fault in the probe's answer pauses again (the store is
// asked again; if it fails again, the hold is longer, by PauseBackoff,
// as the store's count of pauses would make it); any other answer ends
// the hold (a panic of the Deliverer counts as one), and so does a pause
// the store takes, or a resume. A probe that did not hear from the
// partner (released at shutdown, say) leaves the hold, and the next
// record probes.
//
// The store does not know the held records are held: its NextDue reports
// them due, hiding when other destinations' records come due. While a
// hold is in force or its probe out, Run looks again every
// localHoldRecheck (or PollInterval if shorter): not a whole long
// PollInterval late for the others, and not every recheckFloor either.

// localHold is a destination this process holds back because the store
// did not take its pause or disable.
type localHold struct {
	until  time.Time // until then no record of the destination is sent
	pauses int       // local holds in a row, for PauseBackoff
	probe  string    // since until, the ID of the record out as the probe
}

// localHoldRecheck bounds Run's idle wait while a local hold is in force.
const localHoldRecheck = time.Second

// holdLocally holds name in this process after the store failed to write
// p, and returns when the hold ends, as a store counts pauses: a new hold
// is one more in a row, while one more fault during a hold in force only
// extends it; a hold lasts to p's end (a Retry-After, a spent quota), and
// at least PauseBackoff by the holds in a row when p has a Length.
func (d *Dispatcher) holdLocally(name string, p Pause) time.Time {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := time.Now()
	lh := ds.local[name]
	switch {
	case lh == nil:
		lh = &localHold{}
		if ds.local == nil {
			ds.local = make(map[string]*localHold)
		}
		ds.local[name] = lh
		fallthrough
	case !now.Before(lh.until):
		lh.pauses++ // a new hold, not one more fault during this one
		lh.until, lh.probe = time.Time{}, ""
	}
	until := p.Until
	if p.Length != nil {
		until = now.Add(p.Length(lh.pauses))
	}
	if until.After(lh.until) {
		lh.until = until
	}
	return lh.until
}

// endLocalHold ends name's local hold, if any: the store took a pause or
// resume, or the probe's answer said the partner is back.
func (d *Dispatcher) endLocalHold(name string) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	delete(ds.local, name)
}

// localHeld reports whether a local hold keeps record id of name, in
// hand, from being sent, and until when (zero while another record
// probes); or that the record is the hold's probe (asked again, it still
// is). Callers hold ds.mu.
func (ds *destinations) localHeld(name, id string, now time.Time) (until time.Time, held, probe bool) {
	lh := ds.local[name]
	switch {
	case lh == nil:
		return time.Time{}, false, false
	case now.Before(lh.until):
		return lh.until, true, false
	case lh.probe != "" && lh.probe != id:
		return time.Time{}, true, false
	}
	lh.probe = id
	return time.Time{}, false, true
}

// probed reports the end of record id's probe of name: answered when the
// partner answered without a fault (the hold ends), else the probe did not
// hear from it (not sent, or cut off at shutdown), and another record may
// probe. A fault holds the destination anew instead (and this is then a
// no-op).
func (d *Dispatcher) probed(name, id string, answered bool) {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	lh := ds.local[name]
	switch {
	case lh == nil || lh.probe != id:
	case answered:
		delete(ds.local, name)
	default:
		lh.probe = ""
	}
}

// localSkips appends to skip the destinations a local hold keeps from
// claims at now: those held, and those whose probe is out. Callers hold
// ds.mu.
func (ds *destinations) localSkips(skip []string, now time.Time) []string {
	for name, lh := range ds.local {
		if (now.Before(lh.until) || lh.probe != "") && !slices.Contains(skip, name) {
			skip = append(skip, name)
		}
	}
	return skip
}

// holdsLocally reports whether a local hold keeps records from claims
// now: one in force, or one whose probe is out.
func (d *Dispatcher) holdsLocally() bool {
	ds := &d.dests
	ds.mu.Lock()
	defer ds.mu.Unlock()
	now := time.Now()
	for _, lh := range ds.local {
		if now.Before(lh.until) || lh.probe != "" {
			return true
		}
	}
	return false
}
