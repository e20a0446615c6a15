package tokencache_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// partner is a fake API that needs the issuer's tokens and records what it
// received.
type partner struct {
	mu     sync.Mutex
	bodies []string
	auths  []string
}

func (p *partner) handler(iss *tokentest.Issuer) http.Handler {
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, string(body))
		p.auths = append(p.auths, r.Header.Get("Authorization"))
		p.mu.Unlock()
	})
	ok := iss.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "accepted") }))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record(w, r)
		ok.ServeHTTP(w, r)
	})
}

// seen returns copies of the bodies and Authorization headers received.
func (p *partner) seen() (bodies, auths []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.bodies...), append([]string(nil), p.auths...)
}

func (p *partner) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.bodies)
}

type transportFixture struct {
	iss     *tokentest.Issuer
	cache   *tokencache.Cache
	partner *partner
	url     string
	client  *http.Client
}

func newTransportFixture(t *testing.T) *transportFixture {
	f := &transportFixture{iss: tokentest.NewIssuer(tokentest.IssuerConfig{}), partner: &partner{}}
	f.cache = newCache(t, f.iss.Source(), tokencache.Config{})
	srv := httptest.NewServer(f.partner.handler(f.iss))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	tr := &tokencache.Transport{Base: srv.Client().Transport, Cache: f.cache}
	t.Cleanup(tr.CloseIdleConnections)
	f.client = &http.Client{Transport: tr}
	return f
}

func (f *transportFixture) post(t *testing.T, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.url, body)
	require.NoError(t, err)
	resp, err := f.client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestTransportSetsBearerToken(t *testing.T) {
	f := newTransportFixture(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url, nil)
	require.NoError(t, err)
	req.Header.Set("X-Keep", "1")
	resp, err := f.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, req.Header.Get("Authorization"), "the caller's request was modified")
	tok, err := f.cache.Token(t.Context())
	require.NoError(t, err)
	_, auths := f.partner.seen()
	require.True(t, auths[0] == "Bearer "+tok.Value)
	require.Equal(t, 1, f.iss.Mints())
}

func TestTransportReplaysOnceAfter401(t *testing.T) {
	f := newTransportFixture(t)
	require.Equal(t, http.StatusOK, f.post(t, strings.NewReader("one")).StatusCode)
	old, err := f.cache.Token(t.Context())
	require.NoError(t, err)

	f.iss.Revoke(old.Value)
	resp := f.post(t, strings.NewReader("two"))
	require.Equal(t, http.StatusOK, resp.StatusCode, "not replayed with a fresh token")
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, "accepted", string(body))
	bodies, auths := f.partner.seen()
	require.Equal(t, []string{"one", "two", "two"}, bodies, "the replay must resend the body")
	require.Equal(t, 2, f.iss.Mints())
	fresh, err := f.cache.Token(t.Context())
	require.NoError(t, err)
	require.True(t, auths[2] == "Bearer "+fresh.Value)
	require.False(t, fresh.Value == old.Value)
}

func TestTransportReplaysBodylessRequest(t *testing.T) {
	f := newTransportFixture(t)
	require.Equal(t, http.StatusOK, f.post(t, nil).StatusCode)
	old, err := f.cache.Token(t.Context())
	require.NoError(t, err)
	f.iss.Revoke(old.Value)
	require.Equal(t, http.StatusOK, f.post(t, nil).StatusCode)
	require.Equal(t, 3, f.partner.requests())
}

func TestTransportReturns401OnReplay(t *testing.T) {
	f := newTransportFixture(t)
	f.iss.RejectAll(true)
	resp := f.post(t, strings.NewReader("payload"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, 2, f.partner.requests(), "a 401 on the replay must be returned, not replayed again")
	require.Equal(t, 2, f.iss.Mints())
}

func TestTransportDoesNotReplayOneShotBody(t *testing.T) {
	f := newTransportFixture(t)
	require.Equal(t, http.StatusOK, f.post(t, nil).StatusCode)
	old, err := f.cache.Token(t.Context())
	require.NoError(t, err)
	f.iss.Revoke(old.Value)

	// A reader http.NewRequest cannot rewind: no GetBody.
	oneShot := io.MultiReader(strings.NewReader("stream"))
	resp := f.post(t, oneShot)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, 2, f.partner.requests(), "a non-replayable body was replayed")

	// The rejected token was still invalidated: the next request uses a
	// fresh one.
	require.Equal(t, http.StatusOK, f.post(t, strings.NewReader("next")).StatusCode)
	require.Equal(t, 3, f.partner.requests())
	require.Equal(t, 2, f.iss.Mints())
}

func TestTransportTokenFailure(t *testing.T) {
	f := newTransportFixture(t)
	f.iss.FailNext(1)
	body := &trackedBody{Reader: strings.NewReader("payload")}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, f.url, body)
	require.NoError(t, err)
	_, err = f.client.Do(req)
	require.ErrorIs(t, err, tokentest.ErrIssuerFailing)
	require.Equal(t, classify.ClassUnavailable, classify.Of(err), "the partner was never tried")
	ra, ok := classify.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, tokencache.DefaultFailureBackoff, ra)
	require.True(t, body.closed, "RoundTrip must close the body on error")
	require.Zero(t, f.partner.requests(), "sent without a token")
}

func TestTransportNilCache(t *testing.T) {
	body := &trackedBody{Reader: strings.NewReader("x")}
	req := httptest.NewRequest(http.MethodPost, "http://example.invalid/", body)
	_, err := (&tokencache.Transport{}).RoundTrip(req)
	require.ErrorContains(t, err, "tokencache: Transport.Cache is nil")
	require.Equal(t, classify.ClassPermanent, classify.Of(err), "a configuration error fails every time")
	require.True(t, body.closed)
}

func TestTransportBaseError(t *testing.T) {
	f := newTransportFixture(t)
	boom := errors.New("connection refused")
	tr := &tokencache.Transport{Cache: f.cache, Base: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, boom })}
	_, err := tr.RoundTrip(httptest.NewRequest(http.MethodGet, f.url, nil))
	require.ErrorIs(t, err, boom)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error {
	b.closed = true
	return nil
}

// scriptedPartner is a Base that answers each request with the next status
// of its script, after running its hook, and keeps every response body it
// handed out so a test can check they were closed.
type scriptedPartner struct {
	statuses []int
	before   func(n int) // runs before answering request n (from 0); may be nil
	auths    []string
	answers  []*trackedBody
}

func (p *scriptedPartner) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	n := len(p.auths)
	p.auths = append(p.auths, r.Header.Get("Authorization"))
	if p.before != nil {
		p.before(n)
	}
	body := &trackedBody{Reader: strings.NewReader("unauthorized")}
	p.answers = append(p.answers, body)
	return &http.Response{StatusCode: p.statuses[n], Header: http.Header{}, Body: body, Request: r}, nil
}

// replayableRequest returns a POST whose GetBody hands out tracked copies of
// the body, recorded in copies.
func replayableRequest(t *testing.T, ctx context.Context, copies *[]*trackedBody) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://partner.invalid/records", strings.NewReader("record"))
	require.NoError(t, err)
	req.GetBody = func() (io.ReadCloser, error) {
		b := &trackedBody{Reader: strings.NewReader("record")}
		*copies = append(*copies, b)
		return b, nil
	}
	return req
}

// TestTransport401WithoutFreshTokenIsUnavailable: when the replay after a
// 401 cannot get a fresh token, RoundTrip returns the cache's Unavailable
// error (so the record is deferred, not dead-lettered over the 401), closes
// the 401 response and the replay body, and does not send the replay.
func TestTransport401WithoutFreshTokenIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup prepares the cache and returns a hook run while the
		// partner answers the first request with 401.
		setup      func(t *testing.T, iss *tokentest.Issuer, c *tokencache.Cache, cancel context.CancelFunc) func()
		is         error
		retryAfter time.Duration
	}{
		{
			name: "issuer failing",
			setup: func(t *testing.T, iss *tokentest.Issuer, c *tokencache.Cache, cancel context.CancelFunc) func() {
				return func() { iss.FailNext(1) }
			},
			is:         tokentest.ErrIssuerFailing,
			retryAfter: tokencache.DefaultFailureBackoff,
		},
		{
			name: "refreshes backing off after consecutive rejections",
			setup: func(t *testing.T, iss *tokentest.Issuer, c *tokencache.Cache, cancel context.CancelFunc) func() {
				// A first rejection is free; this request's 401 is the
				// second in a row, which pauses refreshes.
				tok, err := c.Token(t.Context())
				require.NoError(t, err)
				require.NoError(t, c.Invalidate(t.Context(), tok))
				return nil
			},
			is:         tokencache.ErrBackoff,
			retryAfter: tokencache.DefaultFailureBackoff,
		},
		{
			name: "cache closed meanwhile",
			setup: func(t *testing.T, iss *tokentest.Issuer, c *tokencache.Cache, cancel context.CancelFunc) func() {
				return func() { require.NoError(t, c.Close()) }
			},
			is: tokencache.ErrClosed,
		},
		{
			name: "caller's context ended meanwhile",
			setup: func(t *testing.T, iss *tokentest.Issuer, c *tokencache.Cache, cancel context.CancelFunc) func() {
				return cancel
			},
			is: context.Canceled,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{})
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				hook := tc.setup(t, iss, c, cancel)
				var mintsAt401 int
				partner := &scriptedPartner{statuses: []int{http.StatusUnauthorized, http.StatusOK}}
				partner.before = func(int) {
					mintsAt401 = iss.Mints()
					if hook != nil {
						hook()
					}
				}
				tr := &tokencache.Transport{Base: partner, Cache: c}
				var copies []*trackedBody

				resp, err := tr.RoundTrip(replayableRequest(t, ctx, &copies))
				require.Nil(t, resp, "the 401 was handed back although no fresh token could be had")
				require.Error(t, err)
				require.Equal(t, classify.ClassUnavailable, classify.Of(err), "error %q", err)
				require.ErrorIs(t, err, tc.is)
				ra, _ := classify.RetryAfter(err)
				require.Equal(t, tc.retryAfter, ra)
				require.Len(t, partner.auths, 1, "replayed without a fresh token")
				require.True(t, partner.answers[0].closed, "the 401 response was not closed")
				for i, b := range copies {
					require.True(t, b.closed, "replay body %d was not closed", i)
				}
				require.Equal(t, mintsAt401, iss.Mints(), "a token was minted after the 401")
			})
		})
	}
}

// TestTransport401OnReplayIsReturned: a 401 to the replay, which carried a
// fresh token, is the response the caller gets (readable, not closed), and
// the first 401 was drained and closed.
func TestTransport401OnReplayIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		c := newCache(t, iss.Source(), tokencache.Config{})
		partner := &scriptedPartner{statuses: []int{http.StatusUnauthorized, http.StatusUnauthorized}}
		tr := &tokencache.Transport{Base: partner, Cache: c}
		var copies []*trackedBody

		resp, err := tr.RoundTrip(replayableRequest(t, t.Context(), &copies))
		require.NoError(t, err)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Len(t, partner.auths, 2, "replayed other than once")
		require.False(t, partner.auths[0] == partner.auths[1], "the replay did not carry a fresh token")
		require.True(t, partner.answers[0].closed, "the first 401 was not closed")
		require.False(t, partner.answers[1].closed, "the returned 401 was closed")
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "unauthorized", string(body))
		require.NoError(t, resp.Body.Close())
		require.Equal(t, 2, iss.Mints())
	})
}

// TestTransport401SameTokenAgainIsUnavailable: if the cache hands out the
// very token the partner just rejected (it remembers only the last rejected
// value: here the store's delete failed and a late 401 for an older token
// came in between), the replay is not sent with it and the caller gets an
// Unavailable error instead of the 401.
func TestTransport401SameTokenAgainIsUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &lateRejectStore{MemoryStore: &tokencache.MemoryStore{}}
		c := newCache(t, iss.Source(), tokencache.Config{Store: store})
		older, err := c.Token(t.Context())
		require.NoError(t, err)
		require.ErrorIs(t, c.Invalidate(t.Context(), older), errStoreDown, "the store keeps the rejected token")
		store.late = func() { _ = c.Invalidate(t.Context(), older) }
		// Past the rejection pacing window, so the next rejection is free.
		time.Sleep(2 * tokencache.DefaultMaxFailureBackoff)

		partner := &scriptedPartner{statuses: []int{http.StatusUnauthorized, http.StatusOK}}
		tr := &tokencache.Transport{Base: partner, Cache: c}
		var copies []*trackedBody
		resp, err := tr.RoundTrip(replayableRequest(t, t.Context(), &copies))
		require.Nil(t, resp)
		require.Equal(t, classify.ClassUnavailable, classify.Of(err), "error %q", err)
		require.ErrorContains(t, err, "tokencache: no fresh token to replay the request after a 401")
		require.Equal(t, 2, iss.Mints())
		require.Len(t, partner.auths, 1, "replayed with the rejected token")
		require.True(t, partner.answers[0].closed)
		for _, b := range copies {
			require.True(t, b.closed)
		}
	})
}

// lateRejectStore is a MemoryStore whose CompareAndDelete fails, and which
// runs late once, inside the first such call, as if another goroutine's
// late 401 arrived just then.
type lateRejectStore struct {
	*tokencache.MemoryStore
	late func()
}

func (s *lateRejectStore) CompareAndDelete(context.Context, string, string) (bool, error) {
	if f := s.late; f != nil {
		s.late = nil
		f()
	}
	return false, errStoreDown
}
