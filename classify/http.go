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
type BodyRule func(status int, body []byte) (Class, bool)

// BodyContains returns a BodyRule that gives class c to any response whose
// body contains substr (case-sensitive).
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
// one per partner, or copy one and change it (Statuses is a map, so copy it
// too before changing it if the original is shared).
type HTTPRules struct {
	// Statuses overrides the class of individual status codes, for example
	// 409 as ClassDuplicate or 422 as ClassDiscard. Statuses not listed use
	// DefaultStatusClass.
	Statuses map[int]Class
	// Body, if set, sees the status and the first MaxBody bytes of every
	// response body and may override the status-based class.
	Body BodyRule
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
func (r HTTPRules) Classify(resp *http.Response, body []byte) error {
	class := r.StatusClass(resp.StatusCode)
	if r.Body != nil {
		if c, ok := r.Body(resp.StatusCode, body); ok {
			class = c
		}
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
