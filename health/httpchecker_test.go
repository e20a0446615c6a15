package health_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

const apiKey = "k3y-Zx9-SECRET"

// partner is a test server whose /health answers with status and body,
// and which requires the X-Api-Key header.
func partner(t *testing.T, status int, body string, header http.Header) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(func() {
		srv.Client().CloseIdleConnections()
		srv.Close()
	})
	return srv
}

func newHTTPChecker(t *testing.T, srv *httptest.Server, cfg health.HTTPCheckerConfig) *health.HTTPChecker {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = srv.URL + "/health?token=" + apiKey
	}
	if cfg.Header == nil {
		cfg.Header = http.Header{"X-Api-Key": {apiKey}}
	}
	cfg.Client = srv.Client()
	c, err := health.NewHTTPChecker(cfg)
	require.NoError(t, err)
	return c
}

// requireNoSecret checks that neither the error text nor the checker's
// String leak the API key.
func requireNoSecret(t *testing.T, c *health.HTTPChecker, err error) {
	t.Helper()
	assert.NotContains(t, c.String(), apiKey)
	if err != nil {
		assert.NotContains(t, err.Error(), apiKey)
	}
}

func TestHTTPCheckerPassesOnExpectedStatusAndBody(t *testing.T) {
	srv := partner(t, http.StatusOK, `{"status":"ok","checks":{"db":{"up":true}}}`, nil)
	c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{Validate: health.JSONField("status", "ok")})
	assert.NoError(t, c.Check(t.Context()))
	c = newHTTPChecker(t, srv, health.HTTPCheckerConfig{Validate: health.JSONField("checks.db.up", "true")})
	assert.NoError(t, c.Check(t.Context()))
	assert.True(t, strings.HasPrefix(c.String(), "GET http://127.0.0.1:"), c.String())
	assert.True(t, strings.HasSuffix(c.String(), "/health?[redacted]"), c.String())
}

func TestHTTPCheckerA200ThatSaysDownFails(t *testing.T) {
	srv := partner(t, http.StatusOK, `{"status":"degraded"}`, nil)
	c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{Validate: health.JSONField("status", "ok")})
	err := c.Check(t.Context())
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	assert.ErrorContains(t, err, `field "status" is "degraded"`)
	requireNoSecret(t, c, err)
}

func TestHTTPCheckerClassifiesStatuses(t *testing.T) {
	tests := []struct {
		status int
		expect []int
		class  classify.Class
	}{
		{http.StatusServiceUnavailable, nil, classify.ClassEphemeral},
		{http.StatusTooManyRequests, nil, classify.ClassEphemeral},
		{http.StatusNotFound, nil, classify.ClassPermanent},
		{http.StatusOK, []int{http.StatusNoContent}, classify.ClassPermanent},
		{http.StatusMovedPermanently, nil, classify.ClassPermanent},
	}
	for _, tt := range tests {
		srv := partner(t, tt.status, "", nil)
		c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{ExpectStatus: tt.expect})
		err := c.Check(t.Context())
		assert.Equal(t, tt.class, classify.Of(err), "status %d", tt.status)
		assert.Equal(t, tt.status, classify.Status(err))
		requireNoSecret(t, c, err)
	}
	srv := partner(t, http.StatusNoContent, "", nil)
	c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{ExpectStatus: []int{http.StatusNoContent}})
	assert.NoError(t, c.Check(t.Context()))
}

func TestHTTPCheckerKeepsRetryAfter(t *testing.T) {
	srv := partner(t, http.StatusServiceUnavailable, "maintenance", http.Header{"Retry-After": {"120"}})
	err := newHTTPChecker(t, srv, health.HTTPCheckerConfig{}).Check(t.Context())
	wait, ok := classify.RetryAfter(err)
	assert.True(t, ok)
	assert.Equal(t, 2*time.Minute, wait)
}

func TestHTTPCheckerSendsHeadersButNeverShowsThem(t *testing.T) {
	srv := partner(t, http.StatusOK, "", nil)
	c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{Header: http.Header{"X-Api-Key": {"wrong-" + apiKey}}})
	err := c.Check(t.Context())
	assert.Equal(t, http.StatusUnauthorized, classify.Status(err))
	requireNoSecret(t, c, err)
}

func TestHTTPCheckerTransportErrorHidesTheQuery(t *testing.T) {
	srv := partner(t, http.StatusOK, "", nil)
	c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{})
	srv.Close()
	err := c.Check(t.Context())
	require.Error(t, err)
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	assert.Equal(t, "conn_refused", classify.Cause(err))
	assert.ErrorContains(t, err, "health: GET http://127.0.0.1:")
	requireNoSecret(t, c, err)
}

func TestHTTPCheckerBodyLimit(t *testing.T) {
	srv := partner(t, http.StatusOK, `{"status":"ok","pad":"`+strings.Repeat("x", 100)+`"}`, nil)
	c := newHTTPChecker(t, srv, health.HTTPCheckerConfig{Validate: health.JSONField("status", "ok"), MaxBody: 64})
	assert.ErrorContains(t, c.Check(t.Context()), "longer than MaxBody (64 bytes)")
}

// roundTripFunc lets a test stand in for the network inside a synctest
// bubble.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHTTPCheckerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		c, err := health.NewHTTPChecker(health.HTTPCheckerConfig{
			URL: "https://partner.example/health?token=" + apiKey, Timeout: 3 * time.Second,
			Client: &http.Client{Transport: hang},
		})
		require.NoError(t, err)
		start := time.Now()
		err = c.Check(t.Context())
		assert.Equal(t, 3*time.Second, time.Since(start))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		requireNoSecret(t, c, err)
	})
}

func TestNewHTTPCheckerValidates(t *testing.T) {
	tests := []struct {
		cfg  health.HTTPCheckerConfig
		want string
	}{
		{health.HTTPCheckerConfig{}, "HTTPCheckerConfig.URL"},
		{health.HTTPCheckerConfig{URL: "/health"}, "HTTPCheckerConfig.URL"},
		{health.HTTPCheckerConfig{URL: "ftp://h/x"}, "HTTPCheckerConfig.URL"},
		{health.HTTPCheckerConfig{URL: "https://user:" + apiKey + "@h:bad/x"}, "HTTPCheckerConfig.URL"},
		{health.HTTPCheckerConfig{URL: "https://h/x", Method: "GET /"}, "HTTPCheckerConfig.Method"},
		{health.HTTPCheckerConfig{URL: "https://h/x", ExpectStatus: []int{2000}}, "HTTPCheckerConfig.ExpectStatus"},
		{health.HTTPCheckerConfig{URL: "https://h/x", MaxBody: -1}, "HTTPCheckerConfig.MaxBody"},
		{health.HTTPCheckerConfig{URL: "https://h/x", Timeout: -1}, "HTTPCheckerConfig.Timeout"},
	}
	for _, tt := range tests {
		_, err := health.NewHTTPChecker(tt.cfg)
		assert.ErrorContains(t, err, tt.want)
		assert.NotContains(t, err.Error(), apiKey)
	}
}
