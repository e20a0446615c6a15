package main

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
)

// The three partners the backlog goes to, each a destination of its own.
const (
	ats      = "ats"      // healthy; demands an OAuth2 token; refuses a few records for lack of credit
	crm      = "crm"      // throttles: bursts of 429 with Retry-After
	webhooks = "webhooks" // down for a while: refuses connections
)

// destinations lists the partners in the order the summary shows them.
var destinations = [...]string{ats, crm, webhooks}

// category is what a partner's script does with a record.
type category uint8

const (
	plain    category = iota // accepted
	flaky                    // 503 once, then accepted
	invalid                  // 400 "invalid record": discarded with the reason
	known                    // "already processed": delivered, a duplicate
	noCredit                 // 402 "insufficient credit": dead-lettered at once (ats only)
	categories
)

// categoryOf spreads the categories through the backlog with coprime
// strides; a record has at most one. Only ats bills per record, so only
// its records can be refused for lack of credit.
func categoryOf(i int, dest string) category {
	switch {
	case i%113 == 112 && dest == ats:
		return noCredit
	case i%97 == 41:
		return invalid
	case i%89 == 17:
		return known
	case i%17 == 5:
		return flaky
	}
	return plain
}

// events are the four records each candidate produces, delivered in order.
var events = [...]string{"started", "completed", "scored", "reported"}

// backlog returns the records to deliver: four per candidate, keyed by
// candidate so that each candidate's records arrive in order, and each
// candidate's records for one of the partners, in turn.
func backlog(n int) []delivery.Message {
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		c := i / len(events)
		cand := fmt.Sprintf("cand-%04d", c)
		id := cand + "-" + events[i%len(events)]
		msgs[i] = delivery.Message{
			ID:          id,
			Key:         cand,
			Destination: destinations[c%len(destinations)],
			Payload:     fmt.Appendf(nil, `{"candidate":%q,"event":%q,"score":%d}`, cand, events[i%len(events)], 50+i%50),
		}
	}
	return msgs
}

// script is the partners' behaviour for one backlog.
type script struct {
	byID  map[string]category
	count map[string]*[categories]int // by destination
}

func newScript(msgs []delivery.Message) *script {
	s := &script{byID: make(map[string]category, len(msgs)), count: make(map[string]*[categories]int)}
	for _, d := range destinations {
		s.count[d] = new([categories]int)
	}
	for i, m := range msgs {
		c := categoryOf(i, m.Destination)
		s.byID[m.ID] = c
		s.count[m.Destination][c]++
	}
	return s
}

// total counts the records of category c over every destination.
func (s *script) total(c category) int {
	n := 0
	for _, counts := range s.count {
		n += counts[c]
	}
	return n
}

func (s *script) is(c category) func(*deliverytest.Request) bool {
	return func(r *deliverytest.Request) bool { return s.byID[r.IdempotencyKey] == c }
}

// rules are a partner's answers for the scripted records; the rest get the
// default 200. They come after the partner's own misbehaviour (see
// throttle).
func (s *script) rules() []deliverytest.Rule {
	return []deliverytest.Rule{
		{Match: s.is(noCredit), Repeat: true, Responses: []deliverytest.Response{{
			Status: http.StatusPaymentRequired, Body: `{"error":"insufficient credit on the account"}`,
		}}},
		{Match: s.is(invalid), Repeat: true, Responses: []deliverytest.Response{deliverytest.InvalidRecord("candidate has no email address")}},
		{Match: s.is(known), Repeat: true, Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}},
		{Match: s.is(flaky), PerKey: true, Responses: deliverytest.Statuses(http.StatusServiceUnavailable)},
	}
}

// throttle is crm's rate limiting: after every `every` requests it accepts,
// it answers every request 429 with Retry-After for the next `window`, at
// most `bursts` times.
type throttle struct {
	every  int
	window time.Duration

	mu       sync.Mutex
	bursts   int       // throttles left
	accepted int       // requests accepted since the last throttle
	until    time.Time // the current throttle's end
}

// rule is the throttle as the partner's first rule.
func (t *throttle) rule() deliverytest.Rule {
	return deliverytest.Rule{Match: t.throttles, Repeat: true, Responses: []deliverytest.Response{deliverytest.TooManyRequests(t.window)}}
}

// throttles reports whether r is answered 429. The partner asks it once
// per request.
func (t *throttle) throttles(r *deliverytest.Request) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r.Received.Before(t.until) {
		return true
	}
	if t.bursts > 0 && t.accepted >= t.every {
		t.bursts--
		t.accepted = 0
		t.until = r.Received.Add(t.window)
		return true
	}
	t.accepted++
	return false
}

// describe says what the partners will do, for the opening lines.
func (s *script) describe(cfg config) []string {
	var out []string
	out = append(out, fmt.Sprintf("ats: answer in %v, demand an OAuth2 token from its token endpoint, refuse %d records for lack of credit (402)",
		cfg.latency, s.count[ats][noCredit]))
	if cfg.throttles > 0 {
		out = append(out, fmt.Sprintf("crm: throttle up to %d times, after every %d requests it accepts: 429 with Retry-After: %d to everything for %v",
			cfg.throttles, cfg.throttleEvery, int(throttleWindow/time.Second), throttleWindow))
	} else {
		out = append(out, "crm: never throttle (-throttles 0)")
	}
	if cfg.outage > 0 {
		out = append(out, fmt.Sprintf("webhooks: refuse connections for %v once it has answered %d requests", cfg.outage, cfg.outageAfter))
	} else {
		out = append(out, "webhooks: stay up (-outage 0)")
	}
	return append(out,
		fmt.Sprintf("all: fail %d records once (503), reject %d invalid records, already have %d",
			s.total(flaky), s.total(invalid), s.total(known)))
}

// throttleWindow is how long crm throttles each time, and its Retry-After.
const throttleWindow = time.Second
