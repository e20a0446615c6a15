package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
)

// category is what the partner's script does with a record.
type category uint8

const (
	plain     category = iota // accepted
	flaky                     // 503 once, then accepted
	throttled                 // 429 with Retry-After: 1 once, then accepted
	invalid                   // 400 "invalid record": discarded with the reason
	known                     // "already processed": delivered, a duplicate
	noCredit                  // 402 "insufficient credit": dead-lettered at once
	categories
)

// categoryOf spreads the categories through the backlog with coprime
// strides; a record has at most one.
func categoryOf(i int) category {
	switch {
	case i%331 == 330:
		return noCredit
	case i%97 == 41:
		return invalid
	case i%89 == 17:
		return known
	case i%53 == 11:
		return throttled
	case i%17 == 5:
		return flaky
	}
	return plain
}

// events are the four records each candidate produces, delivered in order.
var events = [...]string{"started", "completed", "scored", "reported"}

// backlog returns the records to deliver: four per candidate, keyed by
// candidate so that each candidate's records arrive in order.
func backlog(n int) []delivery.Message {
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		cand := fmt.Sprintf("cand-%04d", i/len(events))
		id := cand + "-" + events[i%len(events)]
		msgs[i] = delivery.Message{
			ID:      id,
			Key:     cand,
			Payload: fmt.Appendf(nil, `{"candidate":%q,"event":%q,"score":%d}`, cand, events[i%len(events)], 50+i%50),
		}
	}
	return msgs
}

// script is the partner's behaviour for one backlog.
type script struct {
	byID  map[string]category
	count [categories]int
}

func newScript(msgs []delivery.Message) *script {
	s := &script{byID: make(map[string]category, len(msgs))}
	for i, m := range msgs {
		c := categoryOf(i)
		s.byID[m.ID] = c
		s.count[c]++
	}
	return s
}

func (s *script) is(c category) func(*deliverytest.Request) bool {
	return func(r *deliverytest.Request) bool { return s.byID[r.IdempotencyKey] == c }
}

// rules are the partner's answers for the scripted records; the rest get
// the default 200.
func (s *script) rules() []deliverytest.Rule {
	return []deliverytest.Rule{
		{Match: s.is(noCredit), Repeat: true, Responses: []deliverytest.Response{{
			Status: http.StatusPaymentRequired, Body: `{"error":"insufficient credit on the account"}`,
		}}},
		{Match: s.is(invalid), Repeat: true, Responses: []deliverytest.Response{deliverytest.InvalidRecord("candidate has no email address")}},
		{Match: s.is(known), Repeat: true, Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}},
		{Match: s.is(throttled), PerKey: true, Responses: []deliverytest.Response{deliverytest.TooManyRequests(time.Second)}},
		{Match: s.is(flaky), PerKey: true, Responses: deliverytest.Statuses(http.StatusServiceUnavailable)},
	}
}

// describe says what the partner will do, for the opening lines.
func (s *script) describe(cfg config) []string {
	var out []string
	if cfg.outage > 0 {
		out = append(out, fmt.Sprintf("be down for %v after %d requests (its health endpoint too)", cfg.outage, cfg.outageAfter))
	}
	return append(out,
		fmt.Sprintf("throttle %d records once (429, Retry-After: 1)", s.count[throttled]),
		fmt.Sprintf("fail %d records once (503)", s.count[flaky]),
		fmt.Sprintf("reject %d invalid records, already have %d, refuse %d for lack of credit", s.count[invalid], s.count[known], s.count[noCredit]),
		"take "+cfg.latency.String()+" per request and demand an OAuth2 token from its token endpoint",
	)
}
