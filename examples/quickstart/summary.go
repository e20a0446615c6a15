package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
)

// maxListed bounds how many dead letters the summary lists.
const maxListed = 10

// summary is what happened to the backlog, from the outbox's records, the
// dispatcher's tally and the partners' books.
type summary struct {
	records                                    int
	delivered, duplicates, discarded, dead     int
	unsettled                                  int
	deadLetters                                []delivery.Record
	discardExample                             *delivery.Record
	sent, requests, retries, deferred          int
	retryCauses                                map[string]int
	throttled                                  int           // 429 answers
	outageFrom, outageTil                      time.Duration // since the start; zero without an outage
	tokens                                     int
	maxConns, conns                            int
	probes, failedProbes                       int
	partnerHolds                               int
	missing                                    []string // delivered per the outbox, unknown to the partner
	expectInvalid, expectKnown, expectNoCredit int
	dests                                      []*destSummary
	elapsed                                    time.Duration
}

// destSummary is what happened at one destination.
type destSummary struct {
	name                                       string
	records                                    int
	delivered, duplicates, discarded, dead     int
	unsettled                                  int
	sent, deferred                             int
	requests                                   int       // the partner received
	throttled                                  int       // answered 429
	firstThrottle                              time.Time // when the first request answered 429 arrived
	holds                                      int       // records the partner holds
	peakConns                                  int
	pauses                                     []window
	paused                                     time.Duration
	causes                                     []string
	whilePaused                                int // requests received while paused, sent after the pause began
	onTheirWay                                 int // requests received while paused, sent before the pause began
	expectInvalid, expectKnown, expectNoCredit int
}

func collect(cfg config, store delivery.Store, ps *partners, sc *script, t *tally, start, end time.Time) (*summary, error) {
	s := &summary{
		records:        cfg.records,
		retries:        t.count(delivery.ActionRetry),
		deferred:       t.count(delivery.ActionDefer),
		retryCauses:    t.retryCauses(),
		tokens:         ps.issuer.Mints(),
		maxConns:       cfg.maxConns,
		expectInvalid:  sc.total(invalid),
		expectKnown:    sc.total(known),
		expectNoCredit: sc.total(noCredit),
	}
	ats := ps.byName[ats].Stats()
	s.probes, s.failedProbes = ats.HealthChecks, ats.HealthFailures
	ps.mu.Lock()
	if !ps.outageFrom.IsZero() {
		s.outageFrom, s.outageTil = ps.outageFrom.Sub(start), ps.outageTil.Sub(start)
	}
	ps.mu.Unlock()
	byName := make(map[string]*destSummary, len(destinations))
	for _, name := range destinations {
		d := newDestSummary(name, ps.byName[name], sc, t, end)
		byName[name] = d
		s.dests = append(s.dests, d)
		s.sent += d.sent
		s.requests += d.requests
		s.partnerHolds += d.holds
		s.throttled += d.throttled
		s.conns += ps.byName[name].Stats().Connections
	}
	ctx := context.Background()
	for after := ""; ; {
		page, err := store.List(ctx, delivery.ListOptions{Limit: delivery.MaxPageSize, After: after})
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		for _, r := range page.Records {
			s.add(r, byName[r.Destination], ps.byName[r.Destination])
		}
		if page.Next == "" {
			return s, nil
		}
		after = page.Next
	}
}

func newDestSummary(name string, partner *deliverytest.Partner, sc *script, t *tally, end time.Time) *destSummary {
	dt := t.destination(name)
	st := partner.Stats()
	d := &destSummary{
		name: name, sent: dt.sent, deferred: dt.deferred,
		requests: st.Requests, holds: partner.Delivered(), peakConns: st.PeakConnections,
		expectInvalid: sc.count[name][invalid], expectKnown: sc.count[name][known], expectNoCredit: sc.count[name][noCredit],
	}
	d.pauses = pauseWindows(t.destinationChanges(name), end)
	for _, w := range d.pauses {
		d.paused += w.until.Sub(w.from)
		for _, c := range w.causes {
			if !slices.Contains(d.causes, c) {
				d.causes = append(d.causes, c)
			}
		}
	}
	reqs := partner.Requests()
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			if d.throttled == 0 {
				d.firstThrottle = r.Received
			}
			d.throttled++
		}
	}
	d.whilePaused, d.onTheirWay = duringPauses(reqs, d.pauses)
	return d
}

func (s *summary) add(r delivery.Record, d *destSummary, partner *deliverytest.Partner) {
	if d != nil {
		d.records++
	}
	switch r.State {
	case delivery.StateDelivered:
		s.delivered++
		if r.Duplicate {
			s.duplicates++
		}
		if partner == nil || !partner.Holds(r.DeliveryKey()) {
			s.missing = append(s.missing, r.ID)
		}
		if d != nil {
			d.delivered++
			if r.Duplicate {
				d.duplicates++
			}
		}
	case delivery.StateDiscarded:
		s.discarded++
		if s.discardExample == nil {
			s.discardExample = &r
		}
		if d != nil {
			d.discarded++
		}
	case delivery.StateDead:
		s.dead++
		if len(s.deadLetters) < maxListed {
			s.deadLetters = append(s.deadLetters, r)
		}
		if d != nil {
			d.dead++
		}
	default:
		s.unsettled++
		if d != nil {
			d.unsettled++
		}
	}
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "\nWhat happened to the %d records:\n", s.records)
	fmt.Fprintf(w, "  delivered       %6d   %d of them duplicates: the partner already had them\n", s.delivered, s.duplicates)
	fmt.Fprintf(w, "  discarded       %6d   invalid records, dropped with the reason", s.discarded)
	if r := s.discardExample; r != nil {
		fmt.Fprintf(w, ", e.g.\n                           %s: %s", r.ID, r.LastAttempt.Error)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  dead-lettered   %6d   kept for inspection and redrive, not retried\n", s.dead)
	for _, r := range s.deadLetters {
		fmt.Fprintf(w, "                           %s: %s\n", r.ID, r.LastAttempt.Error)
	}
	if s.dead > len(s.deadLetters) {
		fmt.Fprintf(w, "                           ... and %d more\n", s.dead-len(s.deadLetters))
	}
	if s.unsettled > 0 {
		fmt.Fprintf(w, "  NOT SETTLED     %6d\n", s.unsettled)
	}
	if err := s.accounting(); err != nil {
		fmt.Fprintf(w, "  UNACCOUNTED FOR: %v\n", err)
	} else {
		fmt.Fprintf(w, "  all %d accounted for; each partner holds every record delivered to it, once\n", s.records)
	}

	fmt.Fprintln(w, "\nBy destination:")
	fmt.Fprintf(w, "  %-9s %7s %9s %9s %5s %8s  %-26s %8s %13s\n",
		"", "records", "delivered", "discarded", "dead", "deferred", "paused", "requests", "while paused")
	for _, d := range s.dests {
		paused := "never"
		if len(d.pauses) > 0 {
			paused = fmt.Sprintf("%.2fs, %d× (%s)", d.paused.Seconds(), len(d.pauses), strings.Join(d.causes, ", "))
		}
		fmt.Fprintf(w, "  %-9s %7d %9d %9d %5d %8d  %-26s %8d %13d\n",
			d.name, d.records, d.delivered, d.discarded, d.dead, d.deferred, paused, d.requests, d.whilePaused)
	}
	onTheirWay := 0
	for _, d := range s.dests {
		onTheirWay += d.onTheirWay
	}
	fmt.Fprintln(w, "  deferred: claimed, then put back without spending an attempt: the destination was paused")
	fmt.Fprintln(w, "  paused: by a 429's Retry-After or a refused connection, for every worker; then one record probes it")
	way := "their way"
	if onTheirWay == 1 {
		way = "its way"
	}
	fmt.Fprintf(w, "  while paused: requests the partner received during its pauses (not counted: %d already on %s)\n", onTheirWay, way)
	if err := s.pausesKept(); err != nil {
		fmt.Fprintf(w, "  SENT WHILE PAUSED: %v\n", err)
	}

	fmt.Fprintln(w, "\nHow:")
	fmt.Fprintf(w, "  requests        %6d   sent; %d reached the partners (the others met a refused connection)\n", s.sent, s.requests)
	fmt.Fprintf(w, "  retried         %6d   %s\n", s.retries, causes(s.retryCauses))
	fmt.Fprintf(w, "  throttled       %6d   answered 429 with Retry-After by crm\n", s.throttled)
	if s.outageTil > 0 {
		fmt.Fprintf(w, "  outage          %5.2fs   webhooks refused connections from %.2fs to %.2fs\n",
			(s.outageTil - s.outageFrom).Seconds(), s.outageFrom.Seconds(), s.outageTil.Seconds())
	}
	fmt.Fprintf(w, "  tokens minted   %6d   one token shared by every request to ats\n", s.tokens)
	peaks := make([]string, len(s.dests))
	for i, d := range s.dests {
		peaks[i] = fmt.Sprintf("%s %d", d.name, d.peakConns)
	}
	fmt.Fprintf(w, "  connections     %6d   reused with keep-alive; at most %s (limit %d per partner)\n",
		s.conns, strings.Join(peaks, ", "), s.maxConns)
	fmt.Fprintf(w, "  health probes   %6d   of ats, %d failed\n", s.probes, s.failedProbes)
	fmt.Fprintf(w, "  elapsed         %6.2fs\n", s.elapsed.Seconds())
}

// causes formats retry causes, most frequent first: "by cause: http_503 58, ...".
func causes(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "by cause: " + strings.Join(parts, ", ")
}

// check returns an error describing every way in which the records are not
// accounted for, or a partner was sent requests while its destination was
// paused; nil if none.
func (s *summary) check() error {
	return errors.Join(s.accounting(), s.pausesKept())
}

// accounting returns an error describing every way in which the records
// are not accounted for, or nil.
func (s *summary) accounting() error {
	var errs []error
	if s.unsettled > 0 {
		errs = append(errs, fmt.Errorf("%d records never settled", s.unsettled))
	}
	if n := s.delivered + s.discarded + s.dead + s.unsettled; n != s.records {
		errs = append(errs, fmt.Errorf("the outbox holds %d of the %d records enqueued", n, s.records))
	}
	if len(s.missing) > 0 {
		errs = append(errs, fmt.Errorf("%d records marked delivered are unknown to the partner, e.g. %s", len(s.missing), s.missing[0]))
	}
	if s.partnerHolds != s.delivered {
		errs = append(errs, fmt.Errorf("the partners hold %d records, the outbox says %d were delivered", s.partnerHolds, s.delivered))
	}
	if s.unsettled == 0 {
		if s.discarded != s.expectInvalid {
			errs = append(errs, fmt.Errorf("%d records discarded, but the partners rejected %d as invalid", s.discarded, s.expectInvalid))
		}
		if s.dead != s.expectNoCredit {
			errs = append(errs, fmt.Errorf("%d records dead-lettered, but the partners refused %d", s.dead, s.expectNoCredit))
		}
		if s.duplicates < s.expectKnown {
			errs = append(errs, fmt.Errorf("%d duplicates, but the partners already had %d records", s.duplicates, s.expectKnown))
		}
	}
	for _, d := range s.dests {
		if d.holds != d.delivered {
			errs = append(errs, fmt.Errorf("%s holds %d records, the outbox says %d were delivered to it", d.name, d.holds, d.delivered))
		}
		if d.unsettled == 0 && d.dead != d.expectNoCredit {
			errs = append(errs, fmt.Errorf("%d records for %s dead-lettered, but it refused %d", d.dead, d.name, d.expectNoCredit))
		}
	}
	return errors.Join(errs...)
}

// pausesKept returns an error naming every partner that was sent requests
// while its destination was paused, or nil.
func (s *summary) pausesKept() error {
	var errs []error
	for _, d := range s.dests {
		if d.whilePaused > 0 {
			noun := "requests"
			if d.whilePaused == 1 {
				noun = "request"
			}
			errs = append(errs, fmt.Errorf("%s received %d %s while paused", d.name, d.whilePaused, noun))
		}
	}
	return errors.Join(errs...)
}
