package httpclient

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/outbound-go/outbound/internal/origin"
	"github.com/outbound-go/outbound/internal/redact"
)

// MaxRedirects bounds how many redirects CheckRedirect follows for one
// request. A longer chain is not followed: the last redirect is answered
// as a RedirectError.
const MaxRedirects = 3

// CheckRedirect is the redirect policy of the clients New builds and
// of every httpdelivery.Deliverer, whatever client it is given; it has the
// signature of http.Client.CheckRedirect. A redirect is followed only if
// the partner gets the same request at the new location:
//
//   - the method is unchanged, and a request with a body is redirected by
//     307 or 308, which resend it (301, 302 and 303 turn a POST into a GET
//     without its body; net/http itself does not follow a 307 or 308 whose
//     body it cannot replay, one without Request.GetBody);
//   - the new location has the origin (scheme, host and port) of the first
//     request, so no header reaches a host it was not meant for: neither an
//     Authorization header, nor a key in a custom header, nor a cookie
//     (net/http would forward them to the same host name on another port,
//     and to subdomains);
//   - fewer than MaxRedirects redirects have been followed.
//
// Otherwise it returns http.ErrUseLastResponse, so the client returns the
// 3xx response itself; httpdelivery.Deliverer classifies it as a Permanent
// RedirectError naming the redacted Location. Every connection a followed
// redirect opens still goes through the client's transport, and so through
// its dial guard (Config.BlockPrivateAddresses).
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 || req.Response == nil ||
		refusal(via[0], req.Response.StatusCode, req.URL, len(via)-1) != "" {
		return http.ErrUseLastResponse
	}
	return nil
}

// refusal says why a redirect is not followed, or returns "" if it is:
// first is the first request of the chain, status the redirect's status,
// next its resolved location (nil if it has none), followed how many
// redirects of the chain were followed before it.
func refusal(first *http.Request, status int, next *url.URL, followed int) string {
	hadBody := first.Body != nil && first.Body != http.NoBody
	keepsBody := status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
	switch {
	case next == nil:
		return "it has no usable Location"
	case followed >= MaxRedirects:
		return fmt.Sprintf("%d redirects were followed already, the most this library follows", followed)
	case !keepsBody && first.Method != http.MethodGet && first.Method != http.MethodHead:
		return fmt.Sprintf("a %d turns the %s into a GET without its body", status, first.Method)
	case !keepsBody && hadBody:
		return fmt.Sprintf("a %d drops the body", status)
	case hadBody && first.GetBody == nil:
		return "the request's body cannot be replayed"
	case !origin.Same(first.URL, next):
		return "the new location is another origin (scheme, host or port), and the request's headers may hold credentials"
	}
	return ""
}

// RedirectPolicy returns a CheckRedirect func that applies CheckRedirect
// and then, for a redirect it would follow, own, the client's own policy
// (nil for none). httpdelivery.New installs it on its copy of any client it
// is given.
func RedirectPolicy(own func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if err := CheckRedirect(req, via); err != nil || own == nil {
			return err
		}
		return own(req, via)
	}
}

// RedirectError is the cause of the Permanent error httpdelivery.Deliverer returns
// for a redirect it did not follow (see CheckRedirect): the partner
// answered 301, 302, 303, 307 or 308, and sending the record to the new
// location would have lost its body or method, or its headers would have
// reached another origin. The record was not delivered; a person should
// update the partner's URL. A status mapped explicitly in
// httpdelivery.Config.Rules.Statuses is classified by that mapping instead (a
// partner that answers a POST with 303 See Other once it has the record).
type RedirectError struct {
	// Status is the redirect status.
	Status int
	// Location is the redacted absolute URL the partner pointed to (see
	// RedactURL), or "" if the response had no usable Location header.
	Location string
	// Reason says why the redirect was not followed.
	Reason string
}

// Error says that the partner moved its API, where to (redacted), and why
// the redirect was not followed.
func (e *RedirectError) Error() string {
	if e.Location == "" {
		return fmt.Sprintf("httpclient: the partner answered %d %s without a usable Location; the redirect was not followed", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("httpclient: the partner moved its API to %s; the redirect was not followed: %s", e.Location, e.Reason)
}

// IsRedirect reports whether status is one net/http follows (301, 302,
// 303, 307, 308).
func IsRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// NewRedirectError describes resp, a redirect that was not followed, of a
// chain that began with first: its status, the redacted Location and why
// CheckRedirect refused it.
func NewRedirectError(first *http.Request, resp *http.Response) *RedirectError {
	e := &RedirectError{Status: resp.StatusCode}
	next, err := resp.Location()
	if err != nil {
		return e
	}
	e.Location = redact.URL(next.String())
	followed := 0
	for r := resp.Request; r != nil && r.Response != nil; r = r.Response.Request {
		followed++
	}
	if e.Reason = refusal(first, resp.StatusCode, next, followed); e.Reason == "" {
		e.Reason = "the client's own redirect policy stopped it"
	}
	return e
}
