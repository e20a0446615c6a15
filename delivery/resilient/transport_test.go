package resilient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/resilient"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
	"github.com/outbound-go/outbound/tokencache"
)

const partnerURL = "https://partner.example/v1/candidates"

// everySecond retries after 1s, up to 4 attempts.
var everySecond = retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 4}

func newTransport(t *testing.T, base http.RoundTripper, cfg resilient.Config) *resilient.Transport {
	t.Helper()
	rt, err := resilient.NewTransport(base, cfg)
	require.NoError(t, err)
	return rt
}

func newRequest(t *testing.T, ctx context.Context, method string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, partnerURL, body)
	require.NoError(t, err)
	return req
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return string(b)
}

func TestRetriesFollowTheScheduleAndRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		policy retry.Policy
		script []step
		want   []time.Duration // arrival of each attempt
		status int
	}{
		{
			name:   "Retry-After raises the backoff and is never early",
			policy: everySecond,
			script: []step{{status: 429, retryAfter: "3"}, {status: 503}, {status: 200, body: "ok"}},
			want:   []time.Duration{0, 3 * time.Second, 4 * time.Second},
			status: 200,
		},
		{
			name:   "an HTTP-date Retry-After is honoured",
			policy: everySecond,
			script: []step{{status: 503, retryAfter: "in 5s"}, {status: 200}},
			want:   []time.Duration{0, 5 * time.Second},
			status: 200,
		},
		{
			name:   "connection resets are retried on the backoff",
			policy: everySecond,
			script: []step{reset, reset, {status: 200}},
			want:   []time.Duration{0, time.Second, 2 * time.Second},
			status: 200,
		},
		{
			name:   "a Retry-After beyond the cap is not waited for: the response is returned at once",
			policy: retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 4, MaxRetryAfter: 10 * time.Second},
			script: []step{{status: 429, retryAfter: "11"}, {status: 200}},
			want:   []time.Duration{0},
			status: 429,
		},
		{
			name:   "a retry that would start after MaxElapsed is not made",
			policy: retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 10, MaxElapsed: 5 * time.Second},
			script: []step{{status: 503, retryAfter: "3"}, {status: 503, retryAfter: "3"}, {status: 200}},
			want:   []time.Duration{0, 3 * time.Second},
			status: 503,
		},
		{
			name:   "404 is an answer, not retried",
			policy: everySecond,
			script: []step{{status: 404, body: "no such candidate"}},
			want:   []time.Duration{0},
			status: 404,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				script := append([]step(nil), tt.script...)
				for i, st := range script {
					if d, ok := strings.CutPrefix(st.retryAfter, "in "); ok { // an HTTP-date, from the bubble's clock
						wait, err := time.ParseDuration(d)
						require.NoError(t, err)
						script[i].retryAfter = time.Now().Add(wait).UTC().Format(http.TimeFormat)
					}
				}
				base := newFakeBase(script...)
				rt := newTransport(t, base, resilient.Config{Policy: tt.policy, NoBreaker: true})
				resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
				require.NoError(t, err)
				assert.Equal(t, tt.status, resp.StatusCode)
				readAll(t, resp)
				assert.Equal(t, tt.want, base.arrivals())
			})
		})
	}
}

func TestJitterNeverBringsARetryBeforeRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		policy := retry.Policy{
			Backoff:     retry.Exponential{Initial: time.Second, Max: 8 * time.Second, Factor: 3, Jitter: retry.FullJitter},
			MaxAttempts: 4,
		}
		for range 50 {
			base := newFakeBase(step{status: 429, retryAfter: "2"}, step{status: 503, retryAfter: "4"}, step{status: 200})
			rt := newTransport(t, base, resilient.Config{Policy: policy, NoBreaker: true})
			resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
			require.NoError(t, err)
			readAll(t, resp)
			at := base.arrivals()
			require.Len(t, at, 3)
			assert.GreaterOrEqual(t, at[1]-at[0], 2*time.Second)
			assert.GreaterOrEqual(t, at[2]-at[1], 4*time.Second)
		}
	})
}

func TestOnlyWhatIsSafeIsRetried(t *testing.T) {
	payload := `{"name":"Ada"}`
	tests := []struct {
		name   string
		cfg    resilient.Config
		method string
		key    string
		body   func() io.Reader
		calls  int
	}{
		{name: "GET", method: http.MethodGet, calls: 3},
		{name: "HEAD", method: http.MethodHead, calls: 3},
		{name: "PUT with a replayable body", method: http.MethodPut, body: func() io.Reader { return strings.NewReader(payload) }, calls: 3},
		{name: "DELETE", method: http.MethodDelete, calls: 3},
		{name: "POST without a key", method: http.MethodPost, body: func() io.Reader { return strings.NewReader(payload) }, calls: 1},
		{name: "PATCH without a key", method: http.MethodPatch, body: func() io.Reader { return strings.NewReader(payload) }, calls: 1},
		{name: "POST with an Idempotency-Key", method: http.MethodPost, key: "cand-42", body: func() io.Reader { return strings.NewReader(payload) }, calls: 3},
		{name: "PUT with a stream body", method: http.MethodPut, body: func() io.Reader { return io.MultiReader(strings.NewReader(payload)) }, calls: 1},
		{name: "POST with a key and a stream body", method: http.MethodPost, key: "cand-42", body: func() io.Reader { return io.MultiReader(strings.NewReader(payload)) }, calls: 1},
		{name: "POST listed in RetryMethods", cfg: resilient.Config{RetryMethods: []string{http.MethodPost}}, method: http.MethodPost, body: func() io.Reader { return bytes.NewReader([]byte(payload)) }, calls: 3},
		{name: "GET not listed in an empty RetryMethods", cfg: resilient.Config{RetryMethods: []string{}}, method: http.MethodGet, calls: 1},
		{name: "POST with a key when no header counts", cfg: resilient.Config{IdempotencyHeader: "-"}, method: http.MethodPost, key: "cand-42", body: func() io.Reader { return strings.NewReader(payload) }, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := newFakeBase(step{status: 503}, step{status: 503}, step{status: 503})
				cfg := tt.cfg
				cfg.Policy = retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 3}
				cfg.NoBreaker = true
				rt := newTransport(t, base, cfg)
				var body io.Reader
				if tt.body != nil {
					body = tt.body()
				}
				req := newRequest(t, t.Context(), tt.method, body)
				if tt.key != "" {
					req.Header.Set("Idempotency-Key", tt.key)
				}
				resp, err := rt.RoundTrip(req)
				require.NoError(t, err)
				assert.Equal(t, 503, resp.StatusCode, "the last response is returned")
				readAll(t, resp)
				assert.Equal(t, tt.calls, base.calls())
				for i, b := range base.bodies {
					if tt.body != nil {
						assert.Equal(t, payload, b, "attempt %d sent the whole body", i+1)
					}
				}
			})
		})
	}
}

func TestRetriedResponsesAreDrainedAndClosedBeforeTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503, body: "busy"}, step{status: 503, body: "busy"}, step{status: 503, body: "last"})
		rt := newTransport(t, base, resilient.Config{Policy: retry.Policy{Backoff: retry.Constant(time.Minute), MaxAttempts: 3}, NoBreaker: true})
		done := make(chan *http.Response)
		go func() {
			resp, err := rt.RoundTrip(newRequest(t, context.Background(), http.MethodGet, nil))
			assert.NoError(t, err)
			done <- resp
		}()
		synctest.Wait() // in the first wait
		require.Equal(t, 1, base.calls())
		assert.True(t, base.response(0).drained.Load(), "drained before the wait")
		assert.True(t, base.response(0).closed.Load(), "closed before the wait")
		resp := <-done
		assert.True(t, base.response(1).closed.Load())
		assert.False(t, base.response(2).closed.Load(), "the last response is the caller's to read")
		assert.Equal(t, "last", readAll(t, resp))
	})
}

func TestContextEndsEveryWaitAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		cfg    resilient.Config
		script []step
		status int // carried by the error
	}{
		{name: "backoff wait", cfg: resilient.Config{Policy: retry.Policy{Backoff: retry.Constant(time.Hour), MaxAttempts: 3, MaxRetryAfter: time.Hour}}, script: []step{{status: 503}}, status: 503},
		{name: "Retry-After wait", cfg: resilient.Config{Policy: retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 3, MaxRetryAfter: time.Hour}}, script: []step{{status: 429, retryAfter: "1800"}}, status: 429},
		{name: "rate limit wait", cfg: resilient.Config{Limiter: rate.NewLimiter(rate.Every(time.Hour), 1)}, script: []step{{status: 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := newFakeBase(tt.script...)
				cfg := tt.cfg
				cfg.NoBreaker = true
				rt := newTransport(t, base, cfg)
				if cfg.Limiter != nil {
					cfg.Limiter.Allow() // the next token is an hour away
				}
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(time.Second, cancel)
				start := time.Now()
				resp, err := rt.RoundTrip(newRequest(t, ctx, http.MethodGet, nil))
				require.Error(t, err)
				assert.Nil(t, resp)
				assert.Equal(t, time.Second, time.Since(start), "returned the moment the context ended")
				assert.ErrorIs(t, err, context.Canceled)
				assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
				assert.Equal(t, tt.status, classify.Status(err))
				for _, b := range base.responses() {
					assert.True(t, b.closed.Load())
				}
			})
		})
	}
}

func TestAWaitThatWouldOutlastTheDeadlineIsNotStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503, retryAfter: "10", body: "busy"}, step{status: 200})
		rt := newTransport(t, base, resilient.Config{Policy: everySecond, NoBreaker: true})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		resp, err := rt.RoundTrip(newRequest(t, ctx, http.MethodGet, nil))
		require.NoError(t, err)
		assert.Zero(t, time.Since(start))
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, "busy", readAll(t, resp))
		assert.Equal(t, 1, base.calls())
	})
}

func TestTransportErrorsThatExhaustRetriesAreClassified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503}, reset, reset)
		rt := newTransport(t, base, resilient.Config{Policy: retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 3}, NoBreaker: true})
		resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		require.Error(t, err)
		assert.Nil(t, resp)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		assert.Equal(t, 503, classify.Status(err), "the status of the last response")
		assert.ErrorIs(t, err, syscall.ECONNRESET)
		assert.ErrorIs(t, err, retry.ErrMaxAttempts)
		var ae *retry.AttemptsError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 3, ae.Attempts)
	})
}

func TestAPermanentTransportErrorIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := classify.Permanent(errors.New("tls: certificate signed by unknown authority"))
		base := newFakeBase(step{err: bad})
		rt := newTransport(t, base, resilient.Config{Policy: everySecond, NoBreaker: true})
		_, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		assert.ErrorIs(t, err, bad)
		assert.Equal(t, classify.ClassPermanent, classify.Of(err))
		assert.Equal(t, 1, base.calls())
	})
}

func TestBreakerOpensOnEphemeralFailuresAndFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bs, err := health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{ConsecutiveFailures: 3, OpenTimeout: time.Minute}})
		require.NoError(t, err)
		base := newFakeBase(step{status: 503})
		rt := newTransport(t, base, resilient.Config{Policy: retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 3}, Breakers: bs})

		resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		require.NoError(t, err)
		assert.Equal(t, 503, resp.StatusCode)
		readAll(t, resp)
		require.Equal(t, 3, base.calls())
		assert.Equal(t, health.BreakerOpen, bs.For("partner.example").State())

		body := &closeTracker{Reader: strings.NewReader("x")}
		start := time.Now()
		resp, err = rt.RoundTrip(newRequest(t, t.Context(), http.MethodPut, body))
		assert.Nil(t, resp)
		assert.Zero(t, time.Since(start), "fails fast")
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.ErrorIs(t, err, health.ErrBreakerOpen)
		ra, ok := classify.RetryAfter(err)
		assert.True(t, ok)
		assert.Positive(t, ra)
		assert.Equal(t, 3, base.calls(), "the partner sees nothing while the breaker is open")
		assert.True(t, body.closed.Load(), "the refused request's body is closed")

		time.Sleep(time.Minute + time.Millisecond) // half-open: one probe goes through
		base.script = []step{{status: 200}}
		resp, err = rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		require.NoError(t, err)
		readAll(t, resp)
		assert.Equal(t, 4, base.calls())
		assert.Equal(t, health.BreakerClosed, bs.For("partner.example").State())
	})
}

func TestFinalAnswersNeverOpenTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bs, err := health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{ConsecutiveFailures: 2}})
		require.NoError(t, err)
		base := newFakeBase(step{status: 422, body: `{"field":"email"}`})
		rt := newTransport(t, base, resilient.Config{Breakers: bs})
		for range 10 {
			resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
			require.NoError(t, err)
			assert.Equal(t, 422, resp.StatusCode)
			readAll(t, resp)
		}
		assert.Equal(t, 10, base.calls())
		assert.Equal(t, health.BreakerClosed, bs.For("partner.example").State())
	})
}

// refusingGate is a closed gate.
type refusingGate struct{}

func (refusingGate) Allow(context.Context) error {
	return &classify.Error{Class: classify.ClassUnavailable, RetryAfter: 30 * time.Second, Err: health.ErrDown}
}

func TestAClosedGateRefusesBeforeSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 200})
		var asked []string
		rt := newTransport(t, base, resilient.Config{Gates: func(dest string) resilient.Gate {
			asked = append(asked, dest)
			return refusingGate{}
		}})
		body := &closeTracker{Reader: strings.NewReader("x")}
		resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodPost, body))
		assert.Nil(t, resp)
		assert.ErrorIs(t, err, health.ErrDown)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.Zero(t, base.calls())
		assert.True(t, body.closed.Load())
		assert.Equal(t, []string{"partner.example"}, asked, "gates are per destination, by host")
	})
}

func TestARefusalBetweenRetriesCarriesTheLastStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503, body: "busy"})
		calls := 0
		rt := newTransport(t, base, resilient.Config{Policy: everySecond, NoBreaker: true, Gates: func(string) resilient.Gate {
			calls++
			if calls > 1 {
				return refusingGate{}
			}
			return nil
		}})
		resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		assert.Nil(t, resp)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.Equal(t, 503, classify.Status(err))
		assert.ErrorIs(t, err, health.ErrDown)
		assert.Equal(t, 1, base.calls())
		assert.True(t, base.response(0).closed.Load())
	})
}

func TestRateLimitsPaceAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 200})
		perHost := map[string]*rate.Limiter{"partner.example": rate.NewLimiter(rate.Every(2*time.Second), 1)}
		rt := newTransport(t, base, resilient.Config{
			Limiter:  rate.NewLimiter(rate.Every(time.Second), 1),
			Limiters: func(dest string) *rate.Limiter { return perHost[dest] },
		})
		for range 3 {
			resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
			require.NoError(t, err)
			readAll(t, resp)
		}
		assert.Equal(t, []time.Duration{0, 2 * time.Second, 4 * time.Second}, base.arrivals())

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		resp, err := rt.RoundTrip(newRequest(t, ctx, http.MethodGet, nil))
		assert.Nil(t, resp)
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "a wait past the deadline is refused at once")
		assert.Equal(t, 3, base.calls())
	})
}

func TestAZeroBurstLimiterIsPermanent(t *testing.T) {
	base := newFakeBase(step{status: 200})
	rt := newTransport(t, base, resilient.Config{Limiter: rate.NewLimiter(1, 0)})
	_, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
	assert.Equal(t, classify.ClassPermanent, classify.Of(err))
	assert.Zero(t, base.calls())
}

func TestABodyRuleSeesTheBodyAndTheCallerStillReadsAllOfIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		long := strings.Repeat("a", 100) + " done"
		base := newFakeBase(step{status: 200, body: `{"status":"try later"}`}, step{status: 200, body: long})
		rt := newTransport(t, base, resilient.Config{
			Policy:    everySecond,
			NoBreaker: true,
			Rules:     classify.HTTPRules{Body: classify.BodyContains("try later", classify.ClassEphemeral), MaxBody: 32},
		})
		resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		require.NoError(t, err)
		assert.Equal(t, long, readAll(t, resp))
		assert.Equal(t, 2, base.calls())
	})
}

func TestRoundTripDoesNotModifyTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503}, step{status: 200})
		rt := newTransport(t, base, resilient.Config{Policy: everySecond, NoBreaker: true})
		req := newRequest(t, t.Context(), http.MethodPut, strings.NewReader("x"))
		req.Header.Set("X-Trace", "1")
		before := req.Header.Clone()
		origBody := req.Body
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		readAll(t, resp)
		assert.Equal(t, before, req.Header)
		assert.True(t, origBody == req.Body, "the request keeps its body")
		assert.Equal(t, []string{"x", "x"}, base.bodies)
	})
}

func TestNewTransportRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name string
		cfg  resilient.Config
		want string
	}{
		{"negative MaxAttempts", resilient.Config{Policy: retry.Policy{MaxAttempts: -1}}, "resilient: Config.Policy: retry: invalid settings: Policy.MaxAttempts"},
		{"negative MaxDrain", resilient.Config{MaxDrain: -1}, "resilient: Config.MaxDrain must not be negative"},
		{"negative MaxBody", resilient.Config{Rules: classify.HTTPRules{MaxBody: -1}}, "resilient: Config.Rules.MaxBody must not be negative"},
		{"bad header", resilient.Config{IdempotencyHeader: "Idempotency Key"}, `resilient: Config.IdempotencyHeader "Idempotency Key" is not a valid header name`},
		{"bad method", resilient.Config{RetryMethods: []string{"GET", "PO ST"}}, `resilient: Config.RetryMethods: "PO ST" is not a valid method`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := resilient.NewTransport(nil, tt.cfg)
			assert.Nil(t, rt)
			assert.ErrorContains(t, err, tt.want)
		})
	}
	t.Run("NewClient reports the client's settings too", func(t *testing.T) {
		_, err := resilient.NewClient(resilient.Config{HTTP: httpclient.Config{MaxConnsPerHost: -1}})
		assert.ErrorContains(t, err, "httpclient: Config.MaxConnsPerHost must not be negative")
	})
}

func TestTheZeroPolicyIsShortAndJittered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503})
		rt := newTransport(t, base, resilient.Config{NoBreaker: true})
		resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
		require.NoError(t, err)
		assert.Equal(t, 503, resp.StatusCode)
		readAll(t, resp)
		at := base.arrivals()
		require.Len(t, at, 4, "DefaultPolicy makes 4 attempts")
		for i, base := range []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond, 4500 * time.Millisecond} {
			gap := at[i+1] - at[i]
			assert.GreaterOrEqual(t, gap, base/2, "equal jitter keeps half of retry %d's backoff", i+1)
			assert.LessOrEqual(t, gap, base)
		}
	})
}

func TestTokensAuthenticateEveryAttempt(t *testing.T) {
	var minted atomic.Int32
	cache, err := tokencache.New(tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		n := minted.Add(1)
		return tokencache.Token{Value: fmt.Sprintf("tok-%d", n), Type: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	}), tokencache.Config{})
	require.NoError(t, err)
	defer cache.Close()
	base := newFakeBase(step{status: 401}, step{status: 503}, step{status: 200})
	rt := newTransport(t, base, resilient.Config{
		Tokens:    cache,
		Policy:    retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 3},
		NoBreaker: true,
	})
	resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	readAll(t, resp)
	// The token transport replays the 401 once with a fresh token; the 503
	// is then retried here, with that token.
	assert.Equal(t, []string{"Bearer tok-1", "Bearer tok-2", "Bearer tok-2"}, base.auths)
}

func TestAnUnavailableTransportErrorIsNotRetriedInProcess(t *testing.T) {
	noToken := classify.Unavailable(errors.New("tokencache: issuer is down"))
	base := newFakeBase(step{err: noToken}, step{status: 200})
	rt := newTransport(t, base, resilient.Config{Policy: everySecond, NoBreaker: true})
	resp, err := rt.RoundTrip(newRequest(t, t.Context(), http.MethodGet, nil))
	assert.Nil(t, resp)
	assert.ErrorIs(t, err, noToken)
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
	assert.Equal(t, 1, base.calls())
}

func TestABodyThatFailsToReplayEndsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newFakeBase(step{status: 503}, step{status: 200})
		rt := newTransport(t, base, resilient.Config{Policy: everySecond, NoBreaker: true})
		req := newRequest(t, t.Context(), http.MethodPut, strings.NewReader("x"))
		req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("spool file is gone") }
		resp, err := rt.RoundTrip(req)
		assert.Nil(t, resp)
		assert.ErrorContains(t, err, "resilient: request body cannot be replayed: spool file is gone")
		assert.Equal(t, classify.ClassPermanent, classify.Of(err))
		assert.Equal(t, 503, classify.Status(err))
		assert.Equal(t, 1, base.calls())
		assert.True(t, base.response(0).closed.Load())
	})
}
