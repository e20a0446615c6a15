package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/sony/gobreaker/v2"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// The pipeline comparison times the success path of each library's
// resilience chain around an attempt that does no I/O: the attempt hands
// back a ready 200 response, and each chain classifies it (is this a
// success, or should it be retried?), passes it through its circuit
// breaker and returns it. Every chain is built once, like a long-lived
// client, and retries up to 3 times with exponential backoff.

const pipelineTries = 3

// okAttempt is the attempt of the comparison: it returns a 200 with no
// body, as an HTTP call would once the body is drained.
func okAttempt() func() *http.Response {
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody}
	return func() *http.Response { return resp }
}

var errStatus = errors.New("bench: retryable status")

// PipelineContenders returns the chains compared on the success path, ours
// first:
//
//   - outbound: delivery.Chain with WithRetry, WithGate (a health.Gate over
//     a Monitor with a fresh "up" result and the breaker) and WithBreaker
//     (health.CircuitBreaker), the attempt classified by
//     classify.HTTPRules.
//   - failsafe-go: failsafe.With(retry policy, circuit breaker), with
//     failsafehttp's HTTP retry policy doing the classification.
//   - backoff/v5 + gobreaker/v2: backoff.Retry around
//     gobreaker.CircuitBreaker.Execute, classified by status by hand, as
//     users compose them.
//   - go-retryablehttp: DefaultRetryPolicy, its per-response check, alone
//     (it has no breaker; its retry loop is inside Client.Do, which needs a
//     real request, so that is measured in the HTTP comparison).
//   - gobreaker/v2 alone: one CircuitBreaker.Execute around the attempt,
//     with a status check and no retry: the part of the work that the
//     backoff/v5 + gobreaker/v2 chain and outbound's (whose breaker is
//     gobreaker's) both do, and so a floor for either.
func PipelineContenders() []Contender {
	return pipelineContenders(okAttempt())
}

// pipelineContenders builds the chains around attempt, which returns the
// response of one attempt.
func pipelineContenders(attempt func() *http.Response) []Contender {
	with := func(f func(func() *http.Response) (Op, func(), error)) func() (Op, func(), error) {
		return func() (Op, func(), error) { return f(attempt) }
	}
	return []Contender{
		{Name: "outbound", Setup: with(outboundPipeline)},
		{Name: "failsafe-go", Setup: with(failsafePipeline)},
		{Name: "backoff/v5 + gobreaker/v2", Setup: with(backoffGobreakerPipeline)},
		{Name: "go-retryablehttp (policy check only)", Partial: true, Setup: with(retryablehttpPolicy)},
		{Name: "gobreaker/v2 Execute alone (no retry)", Partial: true, Setup: with(gobreakerAlone)},
	}
}

// outboundChain is the full chain of middleware the library offers around
// an attempt, as a user composes it: in-process retry outermost, then the
// gate, then the breaker that records every attempt's outcome.
func outboundChain(attempt delivery.Deliverer) (delivery.Deliverer, func(), error) {
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner"})
	if err != nil {
		return nil, nil, err
	}
	monitor, err := health.NewMonitor(health.MonitorConfig{
		Name:    "partner",
		Checker: health.CheckerFunc(func(context.Context) error { return nil }),
		TTL:     24 * time.Hour, // answer from the cached result, as while the background loop runs
	})
	if err != nil {
		return nil, nil, err
	}
	if err := monitor.Check(context.Background()); err != nil {
		return nil, nil, err
	}
	gate, err := health.NewGate(health.GateConfig{Monitor: monitor, Breaker: breaker})
	if err != nil {
		return nil, nil, err
	}
	policy := retry.Policy{
		Backoff:     retry.Exponential{Initial: 10 * time.Millisecond, Max: time.Second, Factor: 2, Jitter: retry.FullJitter},
		MaxAttempts: pipelineTries,
	}
	d := delivery.Chain(attempt,
		delivery.WithRetry(policy),
		delivery.WithGate(gate),
		delivery.WithBreaker(breaker),
	)
	return d, monitor.Stop, nil
}

func outboundPipeline(attempt func() *http.Response) (Op, func(), error) {
	var rules classify.HTTPRules
	d, done, err := outboundChain(delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		return rules.Classify(attempt(), nil)
	}))
	if err != nil {
		return nil, nil, err
	}
	m := &delivery.Message{ID: "m-1", Payload: []byte(`{"n":1}`)}
	return func(ctx context.Context) error { return d.Deliver(ctx, m) }, done, nil
}

func failsafePipeline(attempt func() *http.Response) (Op, func(), error) {
	retryPolicy := failsafehttp.NewRetryPolicyBuilder().
		WithMaxAttempts(pipelineTries).
		WithBackoff(10*time.Millisecond, time.Second).
		Build()
	breaker := circuitbreaker.NewBuilder[*http.Response]().
		HandleIf(func(r *http.Response, err error) bool { return err != nil || r.StatusCode >= 500 }).
		WithFailureThreshold(5).
		WithDelay(time.Minute).
		Build()
	exec := failsafe.With[*http.Response](retryPolicy, breaker)
	return func(ctx context.Context) error {
		r, err := exec.WithContext(ctx).Get(func() (*http.Response, error) { return attempt(), nil })
		return expectOK(r, err)
	}, nil, nil
}

func backoffGobreakerPipeline(attempt func() *http.Response) (Op, func(), error) {
	breaker := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:    "partner",
		Timeout: time.Minute,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 5
		},
	})
	guarded := func() (*http.Response, error) {
		return breaker.Execute(func() (*http.Response, error) {
			resp := attempt()
			if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
				return resp, errStatus
			}
			if resp.StatusCode >= 400 {
				return resp, backoff.Permanent(fmt.Errorf("bench: status %d", resp.StatusCode))
			}
			return resp, nil
		})
	}
	return func(ctx context.Context) error {
		// ExponentialBackOff is stateful, so backoff.Retry makes one per
		// call (as it does when no WithBackOff option is given).
		b := backoff.NewExponentialBackOff()
		b.InitialInterval = 10 * time.Millisecond
		b.MaxInterval = time.Second
		r, err := backoff.Retry(ctx, guarded, backoff.WithBackOff(b), backoff.WithMaxTries(pipelineTries))
		return expectOK(r, err)
	}, nil, nil
}

func gobreakerAlone(attempt func() *http.Response) (Op, func(), error) {
	breaker := gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:    "partner",
		Timeout: time.Minute,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 5
		},
	})
	return func(context.Context) error {
		r, err := breaker.Execute(func() (*http.Response, error) {
			resp := attempt()
			if resp.StatusCode >= 400 {
				return resp, errStatus
			}
			return resp, nil
		})
		return expectOK(r, err)
	}, nil, nil
}

func retryablehttpPolicy(attempt func() *http.Response) (Op, func(), error) {
	return func(ctx context.Context) error {
		resp := attempt()
		again, err := retryablehttp.DefaultRetryPolicy(ctx, resp, nil)
		switch {
		case err != nil:
			return err
		case again:
			return fmt.Errorf("bench: policy says retry after status %d", resp.StatusCode)
		}
		return expectOK(resp, nil)
	}, nil, nil
}

func expectOK(r *http.Response, err error) error {
	if err != nil {
		return err
	}
	if r == nil || r.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: got %v, want a 200 response", r)
	}
	return nil
}
