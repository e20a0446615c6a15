package tokencache_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
