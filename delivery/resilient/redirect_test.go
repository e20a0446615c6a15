package resilient_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/resilient"
	"github.com/outbound-go/outbound/tokencache"
)

// seen is what a loopback server was sent.
type seen struct {
	mu   sync.Mutex
	hits []hit
}

func (s *seen) add(r *http.Request) {
	h := hitOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits = append(s.hits, h)
}

// all returns one "METHOD path body auth=..." line per request.
func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := make([]string, 0, len(s.hits))
	for _, h := range s.hits {
		lines = append(lines, h.method+" "+h.path+" "+h.body+" auth="+h.auth)
	}
	return lines
}

// Redirects behave as for the HTTP deliverer: NewClient follows a 307 only
// to the first request's origin, with the body and the token; a redirect
// to another origin comes back to the caller as the 3xx response, and the
// other origin hears nothing. Under a client that follows every redirect
// (net/http's default policy), the token still never leaves its origin.
func TestRedirectsKeepTheRequestAndTheTokenAtTheirOrigin(t *testing.T) {
	var other seen
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		w.WriteHeader(http.StatusOK)
	}))
	defer otherSrv.Close()
	var partner seen
	partnerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		partner.add(r)
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
		case "/elsewhere":
			http.Redirect(w, r, otherSrv.URL+"/stolen", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer partnerSrv.Close()

	cache, err := tokencache.New(tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{Value: "secret-token", Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}), tokencache.Config{})
	require.NoError(t, err)
	defer cache.Close()
	cfg := resilient.Config{Tokens: cache}

	post := func(c *http.Client, path string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, partnerSrv.URL+path, strings.NewReader(`{"n":1}`))
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", "k-1")
		resp, err := c.Do(req)
		require.NoError(t, err, "a redirect that is not followed is a response, not an error")
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp
	}

	client, err := resilient.NewClient(cfg)
	require.NoError(t, err)
	defer client.CloseIdleConnections()

	resp := post(client, "/same")
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, []string{
		`POST /same {"n":1} auth=Bearer secret-token`,
		`POST /moved {"n":1} auth=Bearer secret-token`,
	}, partner.all(), "a 307 within the origin is followed with the body and the token")

	resp = post(client, "/elsewhere")
	assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode, "the caller gets the redirect it was not let follow")
	assert.Equal(t, otherSrv.URL+"/stolen", resp.Header.Get("Location"))
	assert.Empty(t, other.all(), "another origin hears nothing")

	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rt, err := resilient.NewTransport(base, cfg)
	require.NoError(t, err)
	permissive := &http.Client{Transport: rt} // net/http's policy: follow up to 10
	resp = post(permissive, "/elsewhere")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{`POST /stolen {"n":1} auth=`}, other.all(),
		"under a client that follows it, the request reaches the other origin without the token")
}
