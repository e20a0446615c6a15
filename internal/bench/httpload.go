package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// The HTTP comparison POSTs the same small JSON body to a loopback server
// in the same process, which reads the body and answers 200 with no body.
// Every contender sends the same request: the body with its Content-Type
// and an Idempotency-Key, which a caller sets for any of these libraries
// (it is what makes a retried POST safe), and which outbound's deliverer
// sets from the message. Every contender gets its own connection pool
// sized for the concurrency measured (MaxIdleConnsPerHost = HTTPPoolSize),
// so none of them pays for redialling; what differs is what each library
// does around the request.

// HTTPPoolSize is the idle-connection pool per host that every HTTP
// contender gets, at least the highest concurrency measured.
const HTTPPoolSize = 64

var httpPayload = []byte(`{"candidate":42,"event":"applied"}`)

// httpIdempotencyKey is the Idempotency-Key every HTTP contender sends:
// the message ID the outbound deliverer derives it from.
const httpIdempotencyKey = "m-1"

// newHTTPRequest is the request every contender that takes an
// *http.Request sends.
func newHTTPRequest(ctx context.Context, url string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(httpPayload))
	if err != nil {
		return nil, err
	}
	setHTTPHeaders(req.Header)
	return req, nil
}

// setHTTPHeaders sets the headers of the comparison's request.
func setHTTPHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", httpIdempotencyKey)
}

// NewLoopback starts the loopback server the HTTP comparison sends to: it
// reads each request body and answers 200 with an empty body. Close it when
// done.
func NewLoopback() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
}

// loopbackTransport is the transport every peer and bare net/http get: the
// settings of http.DefaultTransport that matter here, with an idle pool
// large enough that no request closes a connection.
func loopbackTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: HTTPPoolSize,
		IdleConnTimeout:     90 * time.Second,
	}
}

// HTTPContenders returns the clients compared on POSTs to url (a
// [NewLoopback] server) with the given number of concurrent senders, bare
// net/http first (the physical limit):
//
//   - net/http: http.Client.Do, body drained and closed, status checked.
//   - net/http with timeouts: the same with the two timeouts
//     httpclient.New sets by default, the client's (60s, for the whole
//     request) and the transport's ResponseHeaderTimeout (30s). Each is a
//     timer and a cancellable context per request inside net/http; the row
//     shows what they cost by themselves. The outbound row pays the same
//     two: the deliverer enforces the client's timeout as the deadline of
//     its own per-request context.
//   - outbound: httpdelivery.Deliverer on httpclient.New
//     (MaxConnsPerHost = HTTPPoolSize) with the full middleware chain of
//     the pipeline comparison (retry, gate, breaker); it also sets the
//     Idempotency-Key and correlation headers and classifies the response.
//   - outbound, default client: the same with httpclient.New's default
//     bound of 25 connections per host, listed only when workers exceeds it
//     (the bound is the point: it caps sockets per partner).
//   - go-retryablehttp: Client.Do with its default retry policy and backoff.
//   - failsafe-go: failsafehttp.NewRoundTripper with its HTTP retry policy
//     and a circuit breaker.
//   - outbound resilient: resilient.NewTransport (classification, retries,
//     per-host breaker) behind a plain http.Client, as handed to code that
//     only takes one; the RoundTripper peers are failsafe-go's above and
//     go-retryablehttp's StandardClient.
func HTTPContenders(url string, workers int) []Contender {
	cs := []Contender{
		{Name: "net/http (bare)", Setup: func() (Op, func(), error) { return bareHTTP(url, false) }},
		{Name: "net/http with timeouts (60s client, 30s header)", Setup: func() (Op, func(), error) { return bareHTTP(url, true) }},
		{Name: "outbound", Setup: func() (Op, func(), error) { return outboundHTTP(url, HTTPPoolSize) }},
	}
	if workers > httpclient.DefaultMaxConnsPerHost {
		cs = append(cs, Contender{
			Name:  fmt.Sprintf("outbound, default client (%d conns/host)", httpclient.DefaultMaxConnsPerHost),
			Setup: func() (Op, func(), error) { return outboundHTTP(url, 0) },
		})
	}
	return append(cs,
		Contender{Name: "go-retryablehttp", Setup: func() (Op, func(), error) { return retryableHTTP(url) }},
		Contender{Name: "failsafe-go (failsafehttp)", Setup: func() (Op, func(), error) { return failsafeHTTP(url) }},
		Contender{Name: "outbound resilient (RoundTripper)", Setup: func() (Op, func(), error) { return resilientHTTP(url) }},
		Contender{Name: "go-retryablehttp (StandardClient)", Setup: func() (Op, func(), error) { return retryableStandardHTTP(url) }},
	)
}

// bareHTTP is http.Client.Do on the loopback transport, with
// httpclient.New's default timeouts when timeouts is set.
func bareHTTP(url string, timeouts bool) (Op, func(), error) {
	t := loopbackTransport()
	client := &http.Client{Transport: t}
	if timeouts {
		t.ResponseHeaderTimeout = httpclient.DefaultResponseHeaderTimeout
		client.Timeout = httpclient.DefaultClientTimeout
	}
	return func(ctx context.Context) error {
		req, err := newHTTPRequest(ctx, url)
		if err != nil {
			return err
		}
		return drainOK(client.Do(req))
	}, t.CloseIdleConnections, nil
}

func outboundHTTP(url string, conns int) (Op, func(), error) {
	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: conns})
	if err != nil {
		return nil, nil, err
	}
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(url, "application/json")})
	if err != nil {
		return nil, nil, err
	}
	d, stop, err := outboundChain(send)
	if err != nil {
		return nil, nil, err
	}
	// As the dispatcher hands it over: an ID and a correlation ID.
	m := &delivery.Message{ID: httpIdempotencyKey, CorrelationID: "m-1", Payload: httpPayload}
	return func(ctx context.Context) error { return d.Deliver(ctx, m) }, func() {
		stop()
		client.CloseIdleConnections()
	}, nil
}

func retryableHTTP(url string) (Op, func(), error) {
	t := loopbackTransport()
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: t}
	c.Logger = nil
	c.RetryMax = pipelineTries - 1
	return func(ctx context.Context) error {
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, url, httpPayload)
		if err != nil {
			return err
		}
		setHTTPHeaders(req.Header)
		return drainOK(c.Do(req))
	}, t.CloseIdleConnections, nil
}

func failsafeHTTP(url string) (Op, func(), error) {
	t := loopbackTransport()
	retryPolicy := failsafehttp.NewRetryPolicyBuilder().
		WithMaxAttempts(pipelineTries).
		WithBackoff(10*time.Millisecond, time.Second).
		Build()
	breaker := circuitbreaker.NewBuilder[*http.Response]().
		HandleIf(func(r *http.Response, err error) bool { return err != nil || r.StatusCode >= 500 }).
		WithFailureThreshold(5).
		WithDelay(time.Minute).
		Build()
	client := &http.Client{Transport: failsafehttp.NewRoundTripper(t, retryPolicy, breaker)}
	return func(ctx context.Context) error {
		req, err := newHTTPRequest(ctx, url)
		if err != nil {
			return err
		}
		return drainOK(client.Do(req))
	}, t.CloseIdleConnections, nil
}

// drainOK reads and closes the body, so the connection is reused, and
// checks the status.
func drainOK(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: status %d", resp.StatusCode)
	}
	return nil
}
