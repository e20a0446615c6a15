package tokencache

import (
	"errors"
	"io"
	"net/http"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/origin"
)

// errNilCache is RoundTrip's error for a Transport without a Cache.
var errNilCache = classify.Permanent(errors.New("tokencache: Transport.Cache is nil"))

// errNoFreshToken is RoundTrip's error when the token the cache hands out
// for a replay is the one the partner just rejected.
var errNoFreshToken = classify.Unavailable(errors.New("tokencache: no fresh token to replay the request after a 401"))

// maxDrain bounds how much of a 401 response body is read before it is
// closed, so the connection can be reused without reading a huge body.
const maxDrain = 4 << 10

// Transport is an http.RoundTripper that authenticates each request with the
// Cache's token (Authorization: Bearer ...). When the partner answers 401 it
// invalidates that token and replays the request once with a fresh one, if
// the body can be replayed: no body, http.NoBody, or a GetBody func (which
// http.NewRequest sets for bytes, strings and bytes.Reader bodies). It never
// loops. After a 401:
//
//   - If no fresh token can be had for the replay (the issuer fails,
//     refreshes are backing off, the caller's context ended, the cache is
//     closed), RoundTrip closes the 401 response and returns the error of
//     Cache.Token instead: class classify.ClassUnavailable, with a
//     Retry-After where the cache knows one. The request was never tried
//     with a token the partner accepts, so a dispatcher defers the record
//     rather than dead-letter it over a 401 (an auth outage defers).
//   - A 401 to the replay, which carried a fresh token, is returned
//     as the response: the issuer accepted our credentials but the partner
//     rejects its token, which retrying will not fix; a human must look.
//     A partner whose auth server answers 401 to fresh tokens during its
//     outages should have 401 classified as Ephemeral (see the package
//     doc).
//   - A 401 to a request whose body cannot be replayed is returned as the
//     response; the rejected token is still invalidated, so the next
//     request carries a fresh one.
//
// Redirects: the token goes only to the origin (scheme, host and port) of
// the first request of a redirect chain, the one it was issued for. A
// request the client sends because of a redirect carries the redirect
// response in req.Response; RoundTrip follows req.Response.Request back
// to the first request, and sends a request to any other origin (another
// host, another port on the same host, http instead of https) without the
// token, and without the replay after a 401. If that chain cannot be
// followed (a response without its Request), the token is not sent either.
// This holds in any client, whatever its CheckRedirect: net/http itself
// forwards headers to the same host name on another port and to
// subdomains.
//
// The request passed in is not modified. Errors never include the token.
type Transport struct {
	// Base carries the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
	// Cache supplies the tokens. It must not be nil.
	Cache *Cache
}

// RoundTrip sends req with the cache's token as described on Transport. It
// returns an error (and closes req.Body) if no token can be had, for the
// request or for its replay after a 401 (class classify.ClassUnavailable,
// see Cache.Token), if Cache is nil (class classify.ClassPermanent: a
// configuration error fails every time), or if Base fails (Base's error as
// it is).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Cache == nil {
		closeBody(req)
		return nil, errNilCache
	}
	if !firstOrigin(req) {
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := t.Cache.Token(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base().RoundTrip(authorized(req, tok, req.Body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}

	// Invalidate before deciding whether to replay: the token was rejected
	// either way, and the next request should not use it.
	if err := t.Cache.Invalidate(ctx, tok); errors.Is(err, ErrClosed) {
		drain(resp)
		return nil, err // class Unavailable
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	fresh, err := t.Cache.Token(ctx)
	if err == nil && fresh.Value == tok.Value {
		// A refresh that was already running when the token was
		// rejected can still hand it out once.
		err = errNoFreshToken
	}
	if err != nil {
		if body != nil {
			body.Close()
		}
		drain(resp)
		return nil, err // class Unavailable
	}
	drain(resp)
	return t.base().RoundTrip(authorized(req, fresh, body))
}

// CloseIdleConnections closes idle connections of Base if it supports that,
// so http.Client.CloseIdleConnections reaches through the Transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// firstOrigin reports whether req goes to the origin of the first request
// of its redirect chain (true for a request that is not a redirect).
func firstOrigin(req *http.Request) bool {
	first := req
	for first.Response != nil {
		if first.Response.Request == nil {
			return false
		}
		first = first.Response.Request
	}
	return first == req || origin.Same(first.URL, req.URL)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// authorized returns a shallow copy of req with its own headers, the token
// set, and body as its body.
func authorized(req *http.Request, tok Token, body io.ReadCloser) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	tok.SetAuthHeader(r)
	return r
}

// replayBody returns a fresh copy of req's body for a replay, and false if
// the body cannot be replayed.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return body, true
}

func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
