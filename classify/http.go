package classify

import (
	"bytes"
	"net/http"
	"time"
)

// DefaultMaxBody is how many bytes of a response body [HTTPRules] reads for
// its Body rule when MaxBody is zero.
const DefaultMaxBody = 64 << 10

// BodyRule inspects the status and a bounded prefix of a response body and
// may decide the class, for partners that say "already processed" or
// "invalid record" in the body rather than in the status code. It returns
// false to leave the status-based class unchanged. It must not retain body.
//
// Where a rule sits in [HTTPRules] decides what it may do. A rule in
// HTTPRules.Body sees every response, so it may not mark a response
// delivered (ClassOK or ClassDuplicate) when the status says the partner
// did not process the request: 408, 425, 429, every 5xx, and any status
// that is neither 2xx nor 4xx. An error page that happens to contain the
// rule's words must not turn an outage into a delivered record. A rule in
// HTTPRules.BodyByStatus is scoped to its status by the user and may decide
// any class for it.
type BodyRule func(status int, body []byte) (Class, bool)

// BodyContains returns a BodyRule that gives class c to any response whose
// body contains substr (case-sensitive). Under HTTPRules.Body it cannot mark
// a 5xx, 408, 425 or 429 delivered; list it in HTTPRules.BodyByStatus for
// the status where the partner really means it.
func BodyContains(substr string, c Class) BodyRule {
	s := []byte(substr)
	return func(_ int, body []byte) (Class, bool) {
		if bytes.Contains(body, s) {
			return c, true
		}
		return 0, false
	}
}

// FirstMatch returns a BodyRule that applies rules in order and uses the
// first that decides. Nil rules are skipped.
func FirstMatch(rules ...BodyRule) BodyRule {
	return func(status int, body []byte) (Class, bool) {
		for _, r := range rules {
			if r == nil {
				continue
			}
			if c, ok := r(status, body); ok {
				return c, true
			}
		}
		return 0, false
	}
}

// HTTPRules maps an HTTP response to a class. The zero value applies the
// default mapping of [DefaultStatusClass]. HTTPRules is a plain value: build
// one per partner, or copy one and change it (Statuses and BodyByStatus are
// maps, so copy them too before changing them if the original is shared).
//
// A response's class is decided in this order: the rule BodyByStatus holds
// for its status, if that rule decides; then Body, if it decides and may
// (see below); then the class of the status (Statuses, or
// DefaultStatusClass).
type HTTPRules struct {
	// Statuses overrides the class of individual status codes, for example
	// 409 as ClassDuplicate or 422 as ClassDiscard. Statuses not listed use
	// DefaultStatusClass.
	Statuses map[int]Class
	// Body, if set, sees the status and the first MaxBody bytes of every
	// response body and may override the status-based class, with one
	// exception: it cannot mark delivered (ClassOK or ClassDuplicate) a
	// response whose status says the partner did not process the request
	// (408, 425, 429, 5xx, and any status that is neither 2xx nor 4xx).
	// Such a decision is ignored and the status-based class stands, so a
	// 503 error page that contains "already exists" is retried rather than
	// marked delivered. Body may still mark any response Discard, Permanent
	// or Ephemeral: those keep the record visible as not delivered.
	Body BodyRule
	// BodyByStatus holds body rules scoped to one status each, for a
	// partner that answers, say, 500 with "already processed" when it
	// already holds the record. The rule for a response's status runs
	// before Body and may decide any class, ClassOK and ClassDuplicate
	// included: listing a status here is how a user says that a body
	// means delivered on that status.
	//
	//	BodyByStatus: map[int]classify.BodyRule{
	//		500: classify.BodyContains("already processed", classify.ClassDuplicate),
	//	},
	BodyByStatus map[int]BodyRule
	// MaxBody bounds how much of the body is read for classification.
	// Zero means DefaultMaxBody.
	MaxBody int
}

// DefaultStatusClass is the default mapping of an HTTP status code: 2xx is
// ClassOK; 408 Request Timeout, 425 Too Early, 429 Too Many Requests and every
// 5xx are ClassEphemeral; everything else (other 4xx, unfollowed 3xx, codes
// outside 100-599) is ClassPermanent.
func DefaultStatusClass(status int) Class {
	switch {
	case status >= 200 && status <= 299:
		return ClassOK
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests:
		return ClassEphemeral
	case status >= 500 && status <= 599:
		return ClassEphemeral
	}
	return ClassPermanent
}

// StatusClass returns the class of a status code under these rules, before
// any Body rule.
func (r HTTPRules) StatusClass(status int) Class {
	if c, ok := r.Statuses[status]; ok {
		return c
	}
	return DefaultStatusClass(status)
}

// HasBodyRule reports whether a body rule sees responses with this status:
// Body is set, or BodyByStatus holds a rule for it. When it returns false,
// Classify needs at most a snippet of the body (MaxBodySnippet bytes) of a
// failed response and none of a successful one.
func (r HTTPRules) HasBodyRule(status int) bool {
	return r.Body != nil || r.BodyByStatus[status] != nil
}

// BodyLimit returns how many bytes of the body a caller should read and pass
// to Classify: MaxBody, or DefaultMaxBody when MaxBody is not positive.
func (r HTTPRules) BodyLimit() int {
	if r.MaxBody > 0 {
		return r.MaxBody
	}
	return DefaultMaxBody
}

// Classify returns nil when the response is ClassOK under these rules, and
// otherwise an [*Error] with the class, the status, the Retry-After hint (if
// the header is present and well-formed) and a snippet of body. body should
// be the first BodyLimit() bytes of the response body (or fewer); Classify
// does not read resp.Body.
//
// A rule in Body cannot mark delivered a response whose status says the
// partner did not process the request (see HTTPRules.Body); a rule in
// BodyByStatus can.
func (r HTTPRules) Classify(resp *http.Response, body []byte) error {
	class, ok := r.bodyClass(resp.StatusCode, body)
	if !ok {
		class = r.StatusClass(resp.StatusCode)
	}
	if class == ClassOK {
		return nil
	}
	e := &Error{Class: class, Status: resp.StatusCode, Body: snippet(string(body), MaxBodySnippet)}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if d, ok := ParseRetryAfter(v, time.Now()); ok {
			e.RetryAfter = d
		}
	}
	return e
}

// bodyClass returns the class the body rules decide for a response, and
// false when none decides (or Body decided what it may not).
func (r HTTPRules) bodyClass(status int, body []byte) (Class, bool) {
	if rule := r.BodyByStatus[status]; rule != nil {
		if c, ok := rule(status, body); ok {
			return c, true
		}
	}
	if r.Body == nil {
		return 0, false
	}
	c, ok := r.Body(status, body)
	if !ok || (c.Delivered() && !processedStatus(status)) {
		return 0, false
	}
	return c, true
}

// processedStatus reports whether a status says the partner processed the
// request, so that its body may say how: 2xx, and 4xx other than 408
// Request Timeout, 425 Too Early and 429 Too Many Requests. A 5xx, a 3xx
// that was not followed, a 1xx and codes outside 100-599 say nothing about
// whether the record arrived.
func processedStatus(status int) bool {
	switch {
	case status >= 200 && status <= 299:
		return true
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly,
		status == http.StatusTooManyRequests:
		return false
	}
	return status >= 400 && status <= 499
}
