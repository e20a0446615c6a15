package resilient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/resilient"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// This file runs the transport end to end: a real loopback partner, real
// connections, golang.org/x/oauth2's client-credentials flow, and an
// SDK-style client that only takes an *http.Client, as generated clients
// and vendor SDKs do.

// partner is an httptest partner API. Its API answers follow a script, one
// entry per request (the last entry repeats):
//
//	"200", "201", "503", ...  that status (with a JSON body)
//	"429:2"                   429 with Retry-After: 2
//	"422"                     422 with a validation error body
//	"close"                   503 with Connection: close
//	"reset"                   no answer: the connection is reset
//
// /token issues client-credentials tokens and /health answers healthy
// until down is set.
type partner struct {
	srv *httptest.Server

	mu     sync.Mutex
	script []string
	hits   []hit
	tokens int
	conns  int
	down   bool
}

type hit struct {
	at     time.Time
	method string
	path   string
	auth   string
	key    string
	body   string
}

// hitOf reads r's body and returns what the test servers keep of r.
func hitOf(r *http.Request) hit {
	body, _ := io.ReadAll(r.Body)
	return hit{
		at: time.Now(), method: r.Method, path: r.URL.Path,
		auth: r.Header.Get("Authorization"), key: r.Header.Get("Idempotency-Key"), body: string(body),
	}
}

func newPartner(t *testing.T, script ...string) *partner {
	t.Helper()
	p := &partner{script: script}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
		}
	}
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *partner) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/token":
		p.serveToken(w, r)
		return
	case "/health":
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
		return
	}
	h := hitOf(r)
	p.mu.Lock()
	step := p.script[min(len(p.hits), len(p.script)-1)]
	p.hits = append(p.hits, h)
	p.mu.Unlock()

	status, retryAfter, _ := strings.Cut(step, ":")
	switch status {
	case "reset":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with a RST
		}
		_ = conn.Close()
		return
	case "close":
		w.Header().Set("Connection", "close")
		status = "503"
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		panic("partner: bad script step " + step)
	}
	w.Header().Set("Content-Type", "application/json")
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(code)
	switch code {
	case http.StatusOK, http.StatusCreated:
		_, _ = io.WriteString(w, `{"id":"cand-42","name":"Ada"}`)
	case http.StatusUnprocessableEntity:
		_, _ = io.WriteString(w, `{"field":"email","message":"is not an address"}`)
	default:
		_, _ = io.WriteString(w, `{"message":"try again"}`)
	}
}

func (p *partner) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		http.Error(w, "bad grant", http.StatusBadRequest)
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != "outbound" || secret != "s3cret" {
		http.Error(w, "bad client", http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	p.tokens++
	n := p.tokens
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
}

func (p *partner) requests() []hit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]hit(nil), p.hits...)
}

func (p *partner) tokensIssued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokens
}

func (p *partner) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}

func (p *partner) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// candidates is an SDK-style client for the partner's API, written the way
// generated clients and vendor SDKs are: it takes an *http.Client, calls
// Do itself, and turns statuses into its own error types.
type candidates struct {
	http *http.Client
	base string
}

// Candidate is the partner's resource.
type Candidate struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// ValidationError is the SDK's error for a 422.
type ValidationError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *ValidationError) Error() string { return "candidates: invalid " + e.Field + ": " + e.Message }

// APIError is the SDK's error for any other unexpected status.
type APIError struct{ Status int }

func (e *APIError) Error() string { return "candidates: status " + strconv.Itoa(e.Status) }

func (c *candidates) Get(ctx context.Context, id string) (*Candidate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/candidates/"+id, nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, http.StatusOK)
}

func (c *candidates) Create(ctx context.Context, cand Candidate, idempotencyKey string) (*Candidate, error) {
	body, err := json.Marshal(cand)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/candidates", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	return c.do(req, http.StatusCreated)
}

// UploadCV streams the document: the body cannot be replayed.
func (c *candidates) UploadCV(ctx context.Context, id string, doc io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+"/v1/candidates/"+id+"/cv", doc)
	if err != nil {
		return err
	}
	_, err = c.do(req, http.StatusOK)
	return err
}

func (c *candidates) do(req *http.Request, want int) (*Candidate, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case want:
		var cand Candidate
		if err := json.NewDecoder(resp.Body).Decode(&cand); err != nil {
			return nil, fmt.Errorf("candidates: decode: %w", err)
		}
		return &cand, nil
	case http.StatusUnprocessableEntity:
		ve := new(ValidationError)
		if err := json.NewDecoder(resp.Body).Decode(ve); err != nil {
			return nil, fmt.Errorf("candidates: decode: %w", err)
		}
		return nil, ve
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil, &APIError{Status: resp.StatusCode}
}

// quick retries fast, so the tests spend their time on the partner's
// Retry-After only.
var quick = retry.Policy{Backoff: retry.Constant(20 * time.Millisecond), MaxAttempts: 5, MaxRetryAfter: 5 * time.Second}

// newSDK returns the SDK over a resilient client for cfg, authenticated
// through golang.org/x/oauth2's client-credentials flow, whose token
// requests go through the same client.
func newSDK(t *testing.T, p *partner, cfg resilient.Config) *candidates {
	t.Helper()
	client, err := resilient.NewClient(cfg)
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	cc := clientcredentials.Config{ClientID: "outbound", ClientSecret: "s3cret", TokenURL: p.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	return &candidates{http: cc.Client(ctx), base: p.srv.URL}
}

func TestSDKOverOAuth2RidesOutThrottlingFailuresAndResets(t *testing.T) {
	p := newPartner(t, "429:1", "close", "reset", "200")
	var seen []string // what each retried attempt ended in, as classify names it
	policy := quick
	policy.OnRetry = func(_ int, _ time.Duration, err error) { seen = append(seen, classify.Cause(err)) }
	sdk := newSDK(t, p, resilient.Config{Policy: policy})

	cand, err := sdk.Get(t.Context(), "cand-42")
	require.NoError(t, err)
	assert.Equal(t, &Candidate{ID: "cand-42", Name: "Ada"}, cand)

	hits := p.requests()
	require.Len(t, hits, 4, "429, 503, reset, 200: every failure retried once")
	assert.GreaterOrEqual(t, hits[1].at.Sub(hits[0].at), time.Second, "the retry after the 429 is not early")
	for _, h := range hits {
		assert.Equal(t, "Bearer tok-1", h.auth, "every attempt carries the token")
	}
	assert.Equal(t, 1, p.tokensIssued(), "one token for all attempts")
	require.Len(t, seen, 3)
	assert.Equal(t, []string{"http_429", "http_503"}, seen[:2])
	assert.Contains(t, []string{"conn_reset", "eof"}, seen[2], "the reset reached the transport, not only net/http's own retry")
}

func TestSDKSeesA422AsItsOwnError(t *testing.T) {
	p := newPartner(t, "422")
	sdk := newSDK(t, p, resilient.Config{Policy: quick})

	_, err := sdk.Create(t.Context(), Candidate{Name: "Ada"}, "cand-42")
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "email", ve.Field)
	assert.Len(t, p.requests(), 1, "a 422 is an answer, not retried")
}

func TestPOSTIsRetriedOnlyWithAnIdempotencyKey(t *testing.T) {
	t.Run("without a key it is sent once", func(t *testing.T) {
		p := newPartner(t, "503", "201")
		sdk := newSDK(t, p, resilient.Config{Policy: quick})
		_, err := sdk.Create(t.Context(), Candidate{Name: "Ada"}, "")
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 503, ae.Status, "the SDK sees the partner's answer")
		assert.Len(t, p.requests(), 1)
	})
	t.Run("with a key it is retried with the same key and body", func(t *testing.T) {
		p := newPartner(t, "503", "201")
		sdk := newSDK(t, p, resilient.Config{Policy: quick})
		cand, err := sdk.Create(t.Context(), Candidate{Name: "Ada"}, "cand-42")
		require.NoError(t, err)
		assert.Equal(t, "cand-42", cand.ID)
		hits := p.requests()
		require.Len(t, hits, 2)
		for _, h := range hits {
			assert.Equal(t, "cand-42", h.key)
			assert.JSONEq(t, `{"name":"Ada"}`, h.body)
		}
	})
}

func TestAStreamBodyIsSentOnce(t *testing.T) {
	p := newPartner(t, "503", "200")
	sdk := newSDK(t, p, resilient.Config{Policy: quick})
	doc := io.MultiReader(strings.NewReader("%PDF-1.7 ..."))
	err := sdk.UploadCV(t.Context(), "cand-42", doc)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.Status)
	hits := p.requests()
	require.Len(t, hits, 1)
	assert.Equal(t, "%PDF-1.7 ...", hits[0].body)
}

func TestRetriedResponsesLeaveTheirConnectionForReuse(t *testing.T) {
	p := newPartner(t, "503", "503", "503", "200")
	sdk := newSDK(t, p, resilient.Config{Policy: quick})
	_, err := sdk.Get(t.Context(), "cand-42")
	require.NoError(t, err)
	_, err = sdk.Get(t.Context(), "cand-42")
	require.NoError(t, err)
	assert.Len(t, p.requests(), 5)
	assert.Equal(t, 1, p.connections(), "the token request and five API requests share one connection")
}

func TestPartnerDownFailsFastWhileTheBreakerIsOpen(t *testing.T) {
	p := newPartner(t, "503")
	bs, err := health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: time.Hour}})
	require.NoError(t, err)
	sdk := newSDK(t, p, resilient.Config{Breakers: bs, Policy: retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 3}})

	_, err = sdk.Get(t.Context(), "cand-42")
	var ae *APIError
	require.ErrorAs(t, err, &ae, "the SDK sees the last 503")
	require.Len(t, p.requests(), 3)

	for range 5 {
		_, err = sdk.Get(t.Context(), "cand-42")
		assert.ErrorIs(t, err, health.ErrBreakerOpen)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "through the SDK's and net/http's wrapping")
		ra, ok := classify.RetryAfter(err)
		assert.True(t, ok)
		assert.Greater(t, ra, 59*time.Minute)
	}
	assert.Len(t, p.requests(), 3, "the partner sees no requests while the breaker is open")
}

func TestPartnerDownFailsFastWhileTheGateIsClosed(t *testing.T) {
	p := newPartner(t, "200")
	checks := &http.Client{}
	t.Cleanup(checks.CloseIdleConnections)
	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{URL: p.srv.URL + "/health", Client: checks})
	require.NoError(t, err)
	monitor, err := health.NewMonitor(health.MonitorConfig{Name: "partner", Checker: checker, FailureThreshold: 1, SuccessThreshold: 1, TTL: time.Hour})
	require.NoError(t, err)
	host := strings.TrimPrefix(p.srv.URL, "http://")
	var asked []string
	var mu sync.Mutex
	sdk := newSDK(t, p, resilient.Config{Policy: quick, Gates: func(dest string) resilient.Gate {
		mu.Lock()
		asked = append(asked, dest)
		mu.Unlock()
		return monitor
	}})

	p.setDown(true)
	require.Error(t, monitor.Check(t.Context()))
	for range 3 {
		_, err = sdk.Get(t.Context(), "cand-42")
		assert.ErrorIs(t, err, health.ErrDown)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	}
	assert.Empty(t, p.requests(), "the partner's API sees no requests while it is down")
	mu.Lock()
	assert.Contains(t, asked, host, "the gate is asked by host")
	mu.Unlock()

	p.setDown(false)
	require.NoError(t, monitor.Check(t.Context()))
	_, err = sdk.Get(t.Context(), "cand-42")
	require.NoError(t, err)
	assert.Len(t, p.requests(), 1)
}

func TestAPartnerThatNeverAnswersExhaustsRetriesWithAClassifiedError(t *testing.T) {
	p := newPartner(t, "reset")
	sdk := newSDK(t, p, resilient.Config{NoBreaker: true, Policy: retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 3}})
	_, err := sdk.Get(t.Context(), "cand-42")
	require.Error(t, err)
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	assert.ErrorIs(t, err, retry.ErrMaxAttempts)
	assert.False(t, errors.Is(err, health.ErrBreakerOpen))
	assert.NotEmpty(t, p.requests())
}

func TestTheClientTimeoutBoundsRetries(t *testing.T) {
	p := newPartner(t, "429:3", "200")
	sdk := newSDK(t, p, resilient.Config{
		Policy: quick,
		HTTP:   httpclient.Config{Timeout: 2 * time.Second},
	})
	_, err := sdk.Get(t.Context(), "cand-42")
	var ae *APIError
	require.ErrorAs(t, err, &ae, "a wait past the client's deadline is not started: the 429 is the answer")
	assert.Equal(t, http.StatusTooManyRequests, ae.Status)
	assert.Len(t, p.requests(), 1)
}

func TestTheDialGuardRefusesPrivateAddressesWithoutRetrying(t *testing.T) {
	p := newPartner(t, "200")
	retries := 0
	policy := quick
	policy.OnRetry = func(int, time.Duration, error) { retries++ }
	client, err := resilient.NewClient(resilient.Config{Policy: policy, HTTP: httpclient.Config{BlockPrivateAddresses: true}})
	require.NoError(t, err)
	t.Cleanup(client.CloseIdleConnections)
	sdk := &candidates{http: client, base: p.srv.URL}
	_, err = sdk.Get(t.Context(), "cand-42")
	var blocked *httpclient.BlockedAddressError
	require.ErrorAs(t, err, &blocked)
	assert.Equal(t, classify.ClassPermanent, classify.Of(err))
	assert.Zero(t, retries, "a refused address is not retried")
	assert.Equal(t, 0, p.connections())
}
