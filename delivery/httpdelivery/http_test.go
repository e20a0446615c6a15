package httpdelivery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

func newDeliverer(t *testing.T, cfg httpdelivery.Config) *httpdelivery.Deliverer {
	t.Helper()
	d, err := httpdelivery.New(cfg)
	require.NoError(t, err)
	return d
}

func msg(id string) *delivery.Message {
	return &delivery.Message{ID: id, Payload: []byte(`{"id":"` + id + `"}`)}
}

func TestHTTPDelivererStatusClasses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status int
		_, _ = fmt.Sscanf(strings.TrimPrefix(r.URL.Path, "/"), "%d", &status)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "status "+r.URL.Path)
	}))
	defer srv.Close()
	rules := classify.HTTPRules{Statuses: map[int]classify.Class{409: classify.ClassDuplicate, 422: classify.ClassDiscard}}
	cases := map[int]classify.Class{
		200: classify.ClassOK, 201: classify.ClassOK, 202: classify.ClassOK, 204: classify.ClassOK,
		400: classify.ClassPermanent, 401: classify.ClassPermanent, 404: classify.ClassPermanent,
		409: classify.ClassDuplicate, 422: classify.ClassDiscard,
		408: classify.ClassEphemeral, 425: classify.ClassEphemeral, 429: classify.ClassEphemeral,
		500: classify.ClassEphemeral, 502: classify.ClassEphemeral, 503: classify.ClassEphemeral, 504: classify.ClassEphemeral,
	}
	for status, want := range cases {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			d := newDeliverer(t, httpdelivery.Config{
				Client: srv.Client(),
				Build:  httpdelivery.PostTo(fmt.Sprintf("%s/%d", srv.URL, status), "application/json"),
				Rules:  rules,
			})
			err := d.Deliver(context.Background(), msg("m1"))
			assert.Equal(t, want, classify.Of(err), "err: %v", err)
			if want != classify.ClassOK {
				assert.Equal(t, status, classify.Status(err))
				var ce *classify.Error
				require.ErrorAs(t, err, &ce)
				if status != 204 {
					assert.Equal(t, fmt.Sprintf("status /%d", status), ce.Body, "body snippet kept for the dead letter")
				}
			}
		})
	}
}

func TestHTTPDelivererRetryAfterBothForms(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/date" {
			w.Header().Set("Retry-After", date)
		} else {
			w.Header().Set("Retry-After", "42")
		}
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()

	d := newDeliverer(t, httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL+"/seconds", "text/plain")})
	err := d.Deliver(context.Background(), msg("a"))
	ra, ok := classify.RetryAfter(err)
	require.True(t, ok)
	assert.Equal(t, 42*time.Second, ra)

	d = newDeliverer(t, httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL+"/date", "text/plain")})
	err = d.Deliver(context.Background(), msg("b"))
	ra, ok = classify.RetryAfter(err)
	require.True(t, ok)
	assert.InDelta(t, float64(90*time.Second), float64(ra), float64(3*time.Second))
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
}

func TestHTTPDelivererBodyBasedDuplicate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError) // the partner's habit (seed 000 §7)
		_, _ = io.WriteString(w, `{"error":"record already processed"}`)
	}))
	defer srv.Close()
	d := newDeliverer(t, httpdelivery.Config{
		Client: srv.Client(),
		Build:  httpdelivery.PostTo(srv.URL, "application/json"),
		Rules: classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{
			http.StatusInternalServerError: classify.BodyContains("already processed", classify.ClassDuplicate),
		}},
	})
	err := d.Deliver(context.Background(), msg("dup"))
	assert.Equal(t, classify.ClassDuplicate, classify.Of(err))
}

func TestHTTPDelivererHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	}))
	defer srv.Close()
	d := newDeliverer(t, httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL, "application/json")})

	ctx := context.Background()
	require.NoError(t, d.Deliver(ctx, &delivery.Message{ID: "id-1", IdempotencyKey: "idem-1", CorrelationID: "corr-1",
		Headers: map[string]string{"X-Tenant": "acme"}}))
	require.NoError(t, d.Deliver(delivery.WithCorrelationID(ctx, "from-ctx"), &delivery.Message{ID: "id-2"}))
	require.NoError(t, d.Deliver(ctx, &delivery.Message{ID: "id-3"}))

	require.Len(t, got, 3)
	assert.Equal(t, "idem-1", got[0].Get("Idempotency-Key"))
	assert.Equal(t, "corr-1", got[0].Get("X-Correlation-ID"))
	assert.Equal(t, "acme", got[0].Get("X-Tenant"))
	assert.Equal(t, "application/json", got[0].Get("Content-Type"))
	assert.Equal(t, "id-2", got[1].Get("Idempotency-Key"), "derived from the message id")
	assert.Equal(t, "from-ctx", got[1].Get("X-Correlation-ID"))
	assert.Len(t, got[2].Get("X-Correlation-ID"), 32, "generated when neither message nor context has one")

	got = nil
	custom := newDeliverer(t, httpdelivery.Config{
		Client: srv.Client(), IdempotencyHeader: "-", CorrelationHeader: "x-request-id",
		Build: func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodPut, srv.URL, nil) // no ctx: the deliverer attaches it
			if err == nil {
				req.Header.Set("X-Request-Id", "builder-set")
			}
			return req, err
		}})
	require.NoError(t, custom.Deliver(ctx, &delivery.Message{ID: "id-4", CorrelationID: "ignored"}))
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Get("Idempotency-Key"))
	assert.Equal(t, "builder-set", got[0].Get("X-Request-Id"))

	// With the default header names, values the builder set are kept too,
	// whatever spelling it used for the name, and sent once.
	got = nil
	defaults := newDeliverer(t, httpdelivery.Config{
		Client: srv.Client(),
		Build: func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
			if err == nil {
				req.Header.Set("idempotency-key", "builder-key")
				req.Header.Set("X-Correlation-ID", "builder-corr")
			}
			return req, err
		}})
	require.NoError(t, defaults.Deliver(ctx, &delivery.Message{ID: "id-5", CorrelationID: "ignored"}))
	require.Len(t, got, 1)
	assert.Equal(t, []string{"builder-key"}, got[0].Values("Idempotency-Key"))
	assert.Equal(t, []string{"builder-corr"}, got[0].Values("X-Correlation-ID"))
}

func TestHTTPDelivererBuilderFailures(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		build httpdelivery.RequestBuilder
		class classify.Class
		text  string
	}{
		{"builder error", func(context.Context, *delivery.Message) (*http.Request, error) {
			return nil, errors.New("template broken")
		}, classify.ClassPermanent, "template broken"},
		{"builder says discard", func(context.Context, *delivery.Message) (*http.Request, error) {
			return nil, classify.Discard(errors.New("candidate never completed"))
		}, classify.ClassDiscard, "candidate never completed"},
		{"nil request", func(context.Context, *delivery.Message) (*http.Request, error) {
			return nil, nil
		}, classify.ClassPermanent, "nil request"},
		{"no URL", func(context.Context, *delivery.Message) (*http.Request, error) {
			return &http.Request{Method: http.MethodPost}, nil
		}, classify.ClassPermanent, "no URL"},
		{"bad URL", httpdelivery.PostTo("://nope", "text/plain"), classify.ClassPermanent, "missing protocol scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeliverer(t, httpdelivery.Config{Build: tc.build})
			err := d.Deliver(ctx, msg("m"))
			assert.Equal(t, tc.class, classify.Of(err))
			assert.ErrorContains(t, err, tc.text)
		})
	}
	_, err := httpdelivery.New(httpdelivery.Config{})
	assert.ErrorContains(t, err, "Build is required")
	_, err = httpdelivery.New(httpdelivery.Config{Build: httpdelivery.PostTo("http://x", "a/b"), MaxDrain: -1})
	assert.ErrorContains(t, err, "MaxDrain")
	_, err = httpdelivery.New(httpdelivery.Config{Build: httpdelivery.PostTo("http://x", "a/b"), IdempotencyHeader: "Idempotency Key"})
	assert.ErrorContains(t, err, "Config.IdempotencyHeader")
	_, err = httpdelivery.New(httpdelivery.Config{Build: httpdelivery.PostTo("http://x", "a/b"), CorrelationHeader: "X-Id\r\n"})
	assert.ErrorContains(t, err, "Config.CorrelationHeader")
}

// A request net/http would refuse is Permanent and never sent: before, it
// failed in the transport as "invalid header field value", which classify
// took for a network failure and retried as Ephemeral for a day.
func TestHTTPDelivererRefusesUnsendableRequestsAsPermanent(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	withHeader := func(name, value string) httpdelivery.RequestBuilder {
		return func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
			if err == nil {
				req.Header[name] = []string{value}
			}
			return req, err
		}
	}
	ctx := context.Background()
	cases := []struct {
		name    string
		build   httpdelivery.RequestBuilder
		ctx     context.Context
		m       *delivery.Message
		mention string
	}{
		{"CRLF in a builder header", withHeader("X-Sig", "Bearer s3cr3t\r\nX-Injected: 1"), ctx, msg("m"), `header "X-Sig" has a control character`},
		{"bad builder header name", withHeader("X Bad", "v"), ctx, msg("m"), `header name "X Bad"`},
		{"CRLF in a message header", httpdelivery.PostTo(srv.URL, "text/plain"), ctx,
			&delivery.Message{ID: "m", Payload: []byte("x"), Headers: map[string]string{"X-Api-Key": "s3cr3t\r\n"}}, `"X-Api-Key"`},
		{"newline in IdempotencyKey", httpdelivery.PostTo(srv.URL, "text/plain"), ctx,
			&delivery.Message{ID: "m", IdempotencyKey: "k\n1", Payload: []byte("x")}, `"Idempotency-Key"`},
		{"newline in CorrelationID", httpdelivery.PostTo(srv.URL, "text/plain"), ctx,
			&delivery.Message{ID: "m", CorrelationID: "c\n1", Payload: []byte("x")}, `"X-Correlation-Id"`},
		{"newline in the context's correlation id", httpdelivery.PostTo(srv.URL, "text/plain"), delivery.WithCorrelationID(ctx, "c\r\n1"),
			msg("m"), `"X-Correlation-Id"`},
		{"ftp scheme", httpdelivery.PostTo("ftp://files.example/in", "text/plain"), ctx, msg("m"), `scheme "ftp" is not http or https`},
		{"file scheme", httpdelivery.PostTo("file:///etc/passwd", "text/plain"), ctx, msg("m"), `scheme "file"`},
		{"relative URL", httpdelivery.PostTo("/hook", "text/plain"), ctx, msg("m"), `scheme ""`},
		{"no host", httpdelivery.PostTo("http:///hook", "text/plain"), ctx, msg("m"), "no host"},
		{"bad method", func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
			if err == nil {
				req.Method = "PO ST"
			}
			return req, err
		}, ctx, msg("m"), `method "PO ST"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeliverer(t, httpdelivery.Config{Client: srv.Client(), Build: tc.build})
			err := d.Deliver(tc.ctx, tc.m)
			require.Error(t, err)
			assert.Equal(t, classify.ClassPermanent, classify.Of(err), "err: %v", err)
			assert.Contains(t, err.Error(), tc.mention)
			assert.NotContains(t, err.Error(), "s3cr3t", "header values are never quoted")
		})
	}
	assert.Zero(t, hits.Load(), "nothing unsendable reached the partner")

	// A tab in a value is allowed, as RFC 9110 allows it.
	d := newDeliverer(t, httpdelivery.Config{Client: srv.Client(), Build: withHeader("X-Note", "a\tb")})
	require.NoError(t, d.Deliver(ctx, msg("m")))
	assert.Equal(t, int64(1), hits.Load())
}

func TestHTTPDelivererRedactsQueryInTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	d := newDeliverer(t, httpdelivery.Config{Build: httpdelivery.PostTo("http://user:hunter2@"+addr+"/services/T1/B2/AbCdEfGh0123456789xyzQ?api_key=s3cr3t", "text/plain")})
	err = d.Deliver(context.Background(), msg("m"))
	require.Error(t, err)
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	for _, secret := range []string{"s3cr3t", "hunter2", "AbCdEfGh0123456789xyzQ"} {
		assert.NotContains(t, err.Error(), secret)
	}
	assert.Contains(t, err.Error(), addr+"/services/T1/B2/[redacted]", "where it went stays readable")
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.NotContains(t, ue.URL, "s3cr3t", "unwrapping shows no secret either")
}

// Errors from a builder or a custom RoundTripper are redacted too, and keep
// their class and identity.
func TestHTTPDelivererRedactsBuilderAndTransportErrors(t *testing.T) {
	ctx := context.Background()
	errTemplate := errors.New("template failed with Authorization: Bearer s3cr3t-token-value")
	cases := []struct {
		name  string
		build httpdelivery.RequestBuilder
		class classify.Class
		is    error
	}{
		{"builder error text", func(context.Context, *delivery.Message) (*http.Request, error) {
			return nil, fmt.Errorf("render: %w", errTemplate)
		}, classify.ClassPermanent, errTemplate},
		{"builder's own url.Parse error", func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodPost, "http://h.example/p?token=s3cr3t\x7f", nil)
		}, classify.ClassPermanent, nil},
		{"classified builder error", func(context.Context, *delivery.Message) (*http.Request, error) {
			return nil, classify.Discard(fmt.Errorf("bad record, password=s3cr3t: %w", errTemplate))
		}, classify.ClassDiscard, errTemplate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeliverer(t, httpdelivery.Config{Build: tc.build})
			err := d.Deliver(ctx, msg("m"))
			require.Error(t, err)
			assert.Equal(t, tc.class, classify.Of(err))
			assert.NotContains(t, err.Error(), "s3cr3t")
			assert.Contains(t, err.Error(), `build request for message "m"`)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}

	errRT := errors.New("proxy said: Proxy-Authorization: Basic dXNlcjpzM2NyM3Q= refused")
	client := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errRT })}
	d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("https://partner.example/hook", "text/plain")})
	err := d.Deliver(ctx, msg("m"))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "dXNlcjpzM2NyM3Q=")
	assert.Contains(t, err.Error(), "refused")
	assert.ErrorIs(t, err, errRT)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A bad PostTo URL fails every call the same way, Permanent, and the error
// does not quote the URL's key.
func TestPostToBadURLIsPermanentAndNotEchoed(t *testing.T) {
	for _, raw := range []string{
		"http://partner.example:port/hook?api_key=s3cr3t",
		"http://partner.example/hook?api_key=s3cr3t\n",
		"://partner.example/hook?api_key=s3cr3t",
		"http://user:s3cr3t@partner example/hook",
	} {
		build := httpdelivery.PostTo(raw, "text/plain")
		d := newDeliverer(t, httpdelivery.Config{Build: build})
		for range 2 {
			err := d.Deliver(context.Background(), msg("m"))
			require.Error(t, err)
			assert.Equal(t, classify.ClassPermanent, classify.Of(err), raw)
			assert.Contains(t, err.Error(), "PostTo URL")
			assert.NotContains(t, err.Error(), "s3cr3t", raw)
		}
	}
	// A good URL is parsed once and copied per request: a change to one
	// request's URL does not reach the next.
	build := httpdelivery.PostTo("https://partner.example/hook?x=1", "application/json")
	req, err := build(context.Background(), msg("m"))
	require.NoError(t, err)
	assert.Equal(t, "partner.example", req.Host)
	assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
	req.URL.Path = "/changed"
	req2, err := build(context.Background(), msg("m"))
	require.NoError(t, err)
	assert.Equal(t, "https://partner.example/hook?x=1", req2.URL.String())
	body, err := io.ReadAll(req2.Body)
	require.NoError(t, err)
	assert.Equal(t, string(msg("m").Payload), string(body))
	assert.NotNil(t, req2.GetBody, "the body can be replayed (a 401 retry, a redirect)")
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://partner.example/v1/orders/42":                                "https://partner.example/v1/orders/42",
		"https://user:pw@partner.example/hook?api_key=s3cr3t#frag":            "https://[redacted]@partner.example/hook?[redacted]#[redacted]",
		"https://hooks.slack.com/services/T0001/B0001/AbCdEfGh0123456789xyzQ": "https://hooks.slack.com/services/T0001/B0001/[redacted]",
		"::not a url": "[redacted]",
	}
	for in, want := range cases {
		assert.Equal(t, want, delivery.RedactURL(in), in)
	}
}

// connCounter counts connections a server accepts and the peak number open
// at once.
type connCounter struct {
	opened, open, peak atomic.Int64
}

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
		n := c.open.Add(1)
		for {
			p := c.peak.Load()
			if n <= p || c.peak.CompareAndSwap(p, n) {
				break
			}
		}
	case http.StateClosed, http.StateHijacked:
		c.open.Add(-1)
	}
}

func TestSequentialDeliveriesReuseConnections(t *testing.T) {
	var cc connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("n") == "odd" {
			w.WriteHeader(http.StatusServiceUnavailable) // failures must not cost a connection either
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 100<<10)) // a body bigger than what we classify
	}))
	srv.Config.ConnState = cc.hook
	srv.Start()
	defer srv.Close()

	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	even := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "text/plain")})
	odd := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL+"?n=odd", "text/plain")})
	for i := range 1000 {
		d := even
		if i%2 == 1 {
			d = odd
		}
		err := d.Deliver(context.Background(), msg(fmt.Sprint(i)))
		// Every request reached the server: a count of connections over
		// failed dials would prove nothing.
		if i%2 == 1 {
			require.Equal(t, 503, classify.Status(err), "delivery %d: %v", i, err)
		} else {
			require.NoError(t, err, "delivery %d", i)
		}
	}
	assert.LessOrEqual(t, cc.opened.Load(), int64(2), "1,000 sequential deliveries opened %d connections", cc.opened.Load())
	assert.Positive(t, cc.opened.Load())
}

func TestConcurrentSendersRespectMaxConnsPerHost(t *testing.T) {
	var cc connCounter
	var inflight, peakInflight atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peakInflight.Load(); n > p && !peakInflight.CompareAndSwap(p, n); p = peakInflight.Load() {
		}
		time.Sleep(time.Millisecond) // load shape: let requests overlap
	}))
	srv.Config.ConnState = cc.hook
	srv.Start()
	defer srv.Close()

	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
	require.NoError(t, err)
	d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "text/plain")})
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 20 {
				assert.NoError(t, d.Deliver(context.Background(), msg(fmt.Sprint(g, "-", i))))
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, cc.peak.Load(), int64(8), "peak concurrent connections")
	assert.LessOrEqual(t, peakInflight.Load(), int64(8), "peak in-flight requests")
	assert.Greater(t, peakInflight.Load(), int64(1), "the senders did overlap")
}

// The body rule sees at most the rules' BodyLimit of a response: a marker
// within it decides the class, one beyond it is never read, and a large
// body still leaves the connection reusable.
func TestHTTPDelivererBodyRuleSeesABoundedPrefix(t *testing.T) {
	const marker = "already processed"
	var cc connCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var at int
		_, _ = fmt.Sscanf(r.URL.Query().Get("at"), "%d", &at)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, strings.Repeat("x", at)+marker+strings.Repeat("y", 100<<10))
	}))
	srv.Config.ConnState = cc.hook
	srv.Start()
	defer srv.Close()
	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)

	cases := []struct {
		name    string
		maxBody int
		at      int
		want    classify.Class
		seen    int
	}{
		{"marker early, default limit", 0, 1000, classify.ClassDuplicate, classify.DefaultMaxBody},
		{"marker ends at the default limit", 0, classify.DefaultMaxBody - len(marker), classify.ClassDuplicate, classify.DefaultMaxBody},
		{"marker straddles the default limit", 0, classify.DefaultMaxBody - 1, classify.ClassEphemeral, classify.DefaultMaxBody},
		{"marker beyond a small limit", 100, 200, classify.ClassEphemeral, 100},
		{"marker within a small limit", 100, 10, classify.ClassDuplicate, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seen int
			contains := classify.BodyContains(marker, classify.ClassDuplicate)
			d := newDeliverer(t, httpdelivery.Config{
				Client: client,
				Build:  httpdelivery.PostTo(fmt.Sprintf("%s/?at=%d", srv.URL, tc.at), "application/json"),
				Rules: classify.HTTPRules{MaxBody: tc.maxBody, BodyByStatus: map[int]classify.BodyRule{
					http.StatusInternalServerError: func(status int, body []byte) (classify.Class, bool) {
						seen = len(body)
						return contains(status, body)
					},
				}},
			})
			err := d.Deliver(context.Background(), msg("m"))
			assert.Equal(t, tc.want, classify.Of(err), "err: %v", err)
			assert.Equal(t, tc.seen, seen, "bytes the body rule saw")
		})
	}
	assert.Equal(t, int64(1), cc.opened.Load(), "bodies past the limit were drained, not left to close the connection")
}
