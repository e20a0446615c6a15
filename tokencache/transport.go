package tokencache

import (
	"errors"
	"io"
	"net/http"

	"github.com/outbound-go/outbound/classify"
)

// errNilCache is RoundTrip's error for a Transport without a Cache.
var errNilCache = classify.Permanent(errors.New("tokencache: Transport.Cache is nil"))

// maxDrain bounds how much of a 401 response body is read before it is
// closed, so the connection can be reused without reading a huge body.
const maxDrain = 4 << 10

// Transport is an http.RoundTripper that authenticates each request with the
// Cache's token (Authorization: Bearer ...). When the partner answers 401 it
// invalidates that token and replays the request once with a fresh one, if
// the body can be replayed: no body, http.NoBody, or a GetBody func (which
// http.NewRequest sets for bytes, strings and bytes.Reader bodies). A 401
// on the replay, a 401 to a request whose body cannot be replayed, and a
// 401 when no fresh token can be had are returned to the caller as they
// are; it never loops.
//
// The request passed in is not modified. Errors never include the token.
type Transport struct {
	// Base carries the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
	// Cache supplies the tokens. It must not be nil.
	Cache *Cache
}

// RoundTrip sends req with the cache's token as described on Transport. It
// returns an error (and closes req.Body) if no token can be had (class
// classify.ClassUnavailable, see Cache.Token), if Cache is nil (class
// classify.ClassPermanent: a configuration error fails every time), or if
// Base fails (Base's error as it is).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Cache == nil {
		closeBody(req)
		return nil, errNilCache
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
		return resp, nil
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	fresh, err := t.Cache.Token(ctx)
	if err != nil || fresh.Value == tok.Value {
		if body != nil {
			body.Close()
		}
		return resp, nil
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
