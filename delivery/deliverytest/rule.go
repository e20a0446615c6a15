package deliverytest

import (
	"bytes"
	"fmt"
	"strings"
)

// Rule scripts the partner's answers to the requests it matches. All set
// match fields must match; a Rule with none matches every request. Rules are
// tried in order and the first that answers decides.
//
// Responses are given in order to the requests the rule matches: the first
// matching request gets Responses[0], the next Responses[1], and so on,
// counted over all matching requests or, with PerKey, separately for each
// Idempotency-Key. When they run out the last one repeats if Repeat is set;
// otherwise the rule steps aside and later rules (or the default) answer.
//
//	{Key: "cand-2", Responses: deliverytest.Statuses(503, 503)}             // fails twice, then the default answers
//	{KeyPrefix: "bad-", Responses: []deliverytest.Response{deliverytest.InvalidRecord("no email")}, Repeat: true}
//	{Responses: deliverytest.Statuses(503), PerKey: true}                    // every record fails once
type Rule struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches the request path exactly; a trailing "*" matches by
	// prefix ("/candidates/*"). Empty matches any.
	Path string
	// Key matches the Idempotency-Key exactly; empty matches any.
	Key string
	// KeyPrefix matches Idempotency-Keys that start with it; empty matches
	// any.
	KeyPrefix string
	// BodyContains matches requests whose body contains it; empty matches
	// any.
	BodyContains string
	// Match, if set, must also accept the request: the escape hatch for
	// anything the fields above cannot say. It is called without the
	// partner's lock held and must be safe for concurrent use.
	Match func(r *Request) bool
	// Responses are the answers, in order. Required.
	Responses []Response
	// Repeat keeps giving the last response once the others are used up.
	Repeat bool
	// PerKey counts the sequence separately for each Idempotency-Key.
	PerKey bool
}

func (r *Rule) validate(i int) error {
	field := fmt.Sprintf("PartnerConfig.Rules[%d]", i)
	if len(r.Responses) == 0 {
		return fmt.Errorf("deliverytest: %s.Responses is empty: a rule needs at least one answer", field)
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		return fmt.Errorf("deliverytest: %s.Path %q must start with /", field, r.Path)
	}
	for j, resp := range r.Responses {
		if err := resp.validate(fmt.Sprintf("%s.Responses[%d]", field, j)); err != nil {
			return err
		}
	}
	return nil
}

// matches reports whether the rule's match fields accept req.
func (r *Rule) matches(req *Request) bool {
	switch {
	case r.Method != "" && !strings.EqualFold(r.Method, req.Method):
		return false
	case r.Path != "" && !pathMatches(r.Path, req.Path):
		return false
	case r.Key != "" && r.Key != req.IdempotencyKey:
		return false
	case r.KeyPrefix != "" && !strings.HasPrefix(req.IdempotencyKey, r.KeyPrefix):
		return false
	case r.BodyContains != "" && !bytes.Contains(req.Body, []byte(r.BodyContains)):
		return false
	case r.Match != nil && !r.Match(req):
		return false
	}
	return true
}

func pathMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == path
}

// ruleState is a rule's position in its sequence. It is guarded by the
// partner's lock.
type ruleState struct {
	rule  *Rule
	n     int            // matching requests so far
	byKey map[string]int // matching requests per key, with PerKey
}

// next consumes the answer for one matching request with key, and reports
// false when the sequence is used up and does not repeat.
func (s *ruleState) next(key string) (Response, bool) {
	n := s.n
	if s.rule.PerKey {
		if s.byKey == nil {
			s.byKey = make(map[string]int)
		}
		n = s.byKey[key]
	}
	resps := s.rule.Responses
	if n >= len(resps) && !s.rule.Repeat {
		return Response{}, false
	}
	if s.rule.PerKey {
		s.byKey[key] = n + 1
	} else {
		s.n = n + 1
	}
	return resps[min(n, len(resps)-1)], true
}
