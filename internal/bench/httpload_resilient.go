package bench

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/outbound-go/outbound/delivery/resilient"
	"github.com/outbound-go/outbound/retry"
)

// The RoundTripper rows of the HTTP comparison: clients built for code
// that only takes an *http.Client and calls Do itself. Each sends the
// request as such code would, a POST of bytes (replayable), with the
// Idempotency-Key every contender sends, which lets the outbound transport
// retry it as the others do.

// resilientHTTP is resilient.NewTransport over the loopback transport:
// classification with the default rules, retries on a 3-attempt policy, the
// per-host circuit breaker.
func resilientHTTP(url string) (Op, func(), error) {
	t := loopbackTransport()
	rt, err := resilient.NewTransport(t, resilient.Config{
		Policy: retry.Policy{Backoff: retry.Constant(10 * time.Millisecond), MaxAttempts: pipelineTries, MaxRetryAfter: time.Second},
	})
	if err != nil {
		return nil, nil, err
	}
	client := &http.Client{Transport: rt}
	return func(ctx context.Context) error {
		req, err := newHTTPRequest(ctx, url)
		if err != nil {
			return err
		}
		return drainOK(client.Do(req))
	}, t.CloseIdleConnections, nil
}

// retryableStandardHTTP is go-retryablehttp's StandardClient: its retrying
// client behind a plain *http.Client, as handed to code that takes one.
func retryableStandardHTTP(url string) (Op, func(), error) {
	t := loopbackTransport()
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: t}
	c.Logger = nil
	c.RetryMax = pipelineTries - 1
	client := c.StandardClient()
	return func(ctx context.Context) error {
		req, err := newHTTPRequest(ctx, url)
		if err != nil {
			return err
		}
		return drainOK(client.Do(req))
	}, t.CloseIdleConnections, nil
}
