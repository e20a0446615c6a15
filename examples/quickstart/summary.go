package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// maxListed bounds how many dead letters the summary lists.
const maxListed = 10

// summary is what happened to the backlog, from the outbox's records, the
// dispatcher's tally and the partner's books.
type summary struct {
	records                                    int
	delivered, duplicates, discarded, dead     int
	unsettled                                  int
	deadLetters                                []delivery.Record
	discardExample                             *delivery.Record
	attempts, requests, retries, deferred      int
	retryCauses                                map[string]int
	outageAnswers                              int
	tokens                                     int
	peakConns, maxConns, conns                 int
	probes, failedProbes                       int
	partnerHolds                               int
	missing                                    []string // delivered per the outbox, unknown to the partner
	expectInvalid, expectKnown, expectNoCredit int
	elapsed                                    time.Duration
}

func collect(cfg config, store delivery.Store, partner *deliverytest.Partner, issuer *tokentest.Issuer, sc *script, t *tally) (*summary, error) {
	ps := partner.Stats()
	s := &summary{
		records:        cfg.records,
		attempts:       int(t.attempts.Load()),
		requests:       ps.Requests,
		retries:        t.count(delivery.ActionRetry),
		deferred:       t.count(delivery.ActionDefer),
		retryCauses:    t.retryCauses(),
		outageAnswers:  ps.OutageAnswers,
		tokens:         issuer.Mints(),
		peakConns:      ps.PeakConnections,
		conns:          ps.Connections,
		maxConns:       cfg.maxConns,
		probes:         ps.HealthChecks,
		failedProbes:   ps.HealthFailures,
		partnerHolds:   partner.Delivered(),
		expectInvalid:  sc.count[invalid],
		expectKnown:    sc.count[known],
		expectNoCredit: sc.count[noCredit],
	}
	ctx := context.Background()
	for after := ""; ; {
		page, err := store.List(ctx, delivery.ListOptions{Limit: delivery.MaxPageSize, After: after})
		if err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		for _, r := range page.Records {
			s.add(r, partner)
		}
		if page.Next == "" {
			return s, nil
		}
		after = page.Next
	}
}

func (s *summary) add(r delivery.Record, partner *deliverytest.Partner) {
	switch r.State {
	case delivery.StateDelivered:
		s.delivered++
		if r.Duplicate {
			s.duplicates++
		}
		if !partner.Holds(r.DeliveryKey()) {
			s.missing = append(s.missing, r.ID)
		}
	case delivery.StateDiscarded:
		s.discarded++
		if s.discardExample == nil {
			s.discardExample = &r
		}
	case delivery.StateDead:
		s.dead++
		if len(s.deadLetters) < maxListed {
			s.deadLetters = append(s.deadLetters, r)
		}
	default:
		s.unsettled++
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
	if err := s.check(); err != nil {
		fmt.Fprintf(w, "  UNACCOUNTED FOR: %v\n", err)
	} else {
		fmt.Fprintf(w, "  all %d accounted for; the partner holds every delivered record, once\n", s.records)
	}

	fmt.Fprintln(w, "\nHow:")
	fmt.Fprintf(w, "  attempts        %6d   %d requests reached the partner\n", s.attempts, s.requests)
	fmt.Fprintf(w, "  retried         %6d   %s\n", s.retries, causes(s.retryCauses))
	fmt.Fprintf(w, "  deferred        %6d   claimed, then put back without an attempt while the partner was down\n", s.deferred)
	fmt.Fprintf(w, "                           (the rest of the backlog waited unclaimed)\n")
	fmt.Fprintf(w, "  outage answers  %6d   requests the partner answered 503 while it was down\n", s.outageAnswers)
	fmt.Fprintf(w, "  tokens minted   %6d   one token shared by every request\n", s.tokens)
	fmt.Fprintf(w, "  peak connections%6d   limit %d; %d opened in all, reused with keep-alive\n", s.peakConns, s.maxConns, s.conns)
	fmt.Fprintf(w, "  health probes   %6d   %d failed\n", s.probes, s.failedProbes)
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
// accounted for, or nil.
func (s *summary) check() error {
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
		errs = append(errs, fmt.Errorf("the partner holds %d records, the outbox says %d were delivered", s.partnerHolds, s.delivered))
	}
	if s.unsettled == 0 {
		if s.discarded != s.expectInvalid {
			errs = append(errs, fmt.Errorf("%d records discarded, but the partner rejected %d as invalid", s.discarded, s.expectInvalid))
		}
		if s.dead != s.expectNoCredit {
			errs = append(errs, fmt.Errorf("%d records dead-lettered, but the partner refused %d", s.dead, s.expectNoCredit))
		}
		if s.duplicates < s.expectKnown {
			errs = append(errs, fmt.Errorf("%d duplicates, but the partner already had %d records", s.duplicates, s.expectKnown))
		}
	}
	return errors.Join(errs...)
}
