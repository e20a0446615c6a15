package resilient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
	"github.com/outbound-go/outbound/tokencache"
)

// Transport is an http.RoundTripper that sends each request through the
// destination's gate, rate limit and circuit breaker, classifies the
// outcome with the configured classify.HTTPRules, and retries in process
// what is safe to retry on the configured retry.Policy. It is safe for
// concurrent use. See the package documentation for what is retried and
// what the caller gets back.
type Transport struct {
	base          http.RoundTripper
	rules         classify.HTTPRules
	policy        retry.Policy
	onRetry       func(attempt int, delay time.Duration, err error)
	maxRetryAfter time.Duration
	breakers      *health.Breakers
	gates         func(string) Gate
	limiter       *rate.Limiter
	limiters      func(string) *rate.Limiter
	destination   func(*http.Request) string
	methods       map[string]bool // nil: idempotentMethods
	idemHeader    string          // canonical; "" when no header makes a request retryable
	maxDrain      int64
}

// NewTransport returns a Transport over base (nil means
// http.DefaultTransport) configured by cfg. It returns an error naming the
// field when a setting is invalid: a Policy that retry.Policy.Validate
// rejects, a negative size, a header name or method that is not an RFC 9110
// token.
func NewTransport(base http.RoundTripper, cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	if cfg.Tokens != nil {
		base = &tokencache.Transport{Base: base, Cache: cfg.Tokens}
	}
	t := &Transport{
		base:        base,
		rules:       cfg.Rules,
		policy:      cfg.Policy,
		gates:       cfg.Gates,
		limiter:     cfg.Limiter,
		limiters:    cfg.Limiters,
		destination: cfg.Destination,
		maxDrain:    cfg.MaxDrain,
	}
	if isZeroPolicy(t.policy) {
		t.policy = DefaultPolicy()
	}
	t.maxRetryAfter = t.policy.MaxRetryAfter
	if t.maxRetryAfter == 0 {
		t.maxRetryAfter = retry.DefaultMaxRetryAfter
	}
	t.onRetry = t.policy.OnRetry
	t.policy.OnRetry = t.retrying
	if !cfg.NoBreaker {
		t.breakers = cfg.Breakers
		if t.breakers == nil {
			bs, err := health.NewBreakers(health.BreakersConfig{})
			if err != nil {
				return nil, fmt.Errorf("resilient: %w", err)
			}
			t.breakers = bs
		}
	}
	if t.destination == nil {
		t.destination = hostOf
	}
	if cfg.RetryMethods != nil {
		t.methods = make(map[string]bool, len(cfg.RetryMethods))
		for _, m := range cfg.RetryMethods {
			t.methods[m] = true
		}
	}
	switch cfg.IdempotencyHeader {
	case "":
		t.idemHeader = DefaultIdempotencyHeader
	case "-":
	default:
		t.idemHeader = http.CanonicalHeaderKey(cfg.IdempotencyHeader)
	}
	if t.maxDrain == 0 {
		t.maxDrain = DefaultMaxDrain
	}
	return t, nil
}

func hostOf(req *http.Request) string { return req.URL.Host }

// RoundTrip sends req as the package documentation describes and returns
// the final response as the base transport returned it, whatever its
// status: a 404 or a 422 is a response, not an error. It returns an error
// only when no response is handed back: the destination's gate, rate limit
// or breaker refused the request (class ClassUnavailable, with a
// Retry-After hint where the refuser knows one), the base transport failed
// on the last attempt (the class classify.Of infers for that failure), or
// the request's context ended (its error, class ClassUnavailable for a
// cancellation). When an earlier attempt got a response, the error carries
// that response's status for classify.Status. RoundTrip always closes the
// request body, and never modifies req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	dest := t.destination(req)
	if !t.retrySafe(req) {
		resp, _, err := t.attempt(req.Context(), req, dest)
		if resp != nil {
			return resp, nil
		}
		return nil, err
	}
	c := call{t: t, req: req, dest: dest}
	resp, err := retry.DoValue(req.Context(), t.policy, c.try)
	if c.attempts == 0 {
		closeBody(req) // no attempt was made: the context had ended
	}
	switch {
	case err == nil && resp != nil:
		return resp, nil
	case err == nil:
		return nil, c.withLastStatus(c.refused)
	case req.Context().Err() != nil:
		if resp != nil {
			t.drain(resp)
		}
		return nil, c.contextEnded(req.Context().Err())
	case resp != nil:
		// Retries are exhausted (attempts, elapsed time, or a wait that would
		// outlast the context's deadline) on a retryable status: the last
		// response is the answer, for the caller to read.
		return resp, nil
	}
	return nil, c.withLastStatus(err)
}

// CloseIdleConnections closes the idle connections of the base transport if
// it can, so that http.Client.CloseIdleConnections reaches through.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// call is one RoundTrip of a request that may be retried.
type call struct {
	t          *Transport
	req        *http.Request
	dest       string
	attempts   int
	lastStatus int   // status of the latest response, 0 before any
	refused    error // why the latest attempt was not made, ending the call
}

// try is one attempt under retry.DoValue. A retryable response comes back
// with a *responseError, which retrying drains before the wait; every other
// response, and a refusal (kept in c.refused), ends the call with a nil
// error, because a refusal is not retried in process: the destination was
// not tried, and whoever called knows better when to come back.
func (c *call) try(ctx context.Context) (*http.Response, error) {
	c.attempts++
	r := c.req
	if c.attempts > 1 && c.req.Body != nil && c.req.Body != http.NoBody {
		body, err := c.req.GetBody() // not nil: see retrySafe
		if err != nil {
			c.refused = classify.Permanent(fmt.Errorf("resilient: request body cannot be replayed: %w", err))
			return nil, nil
		}
		r = c.req.WithContext(ctx)
		r.Body = body
	}
	resp, sent, err := c.t.attempt(ctx, r, c.dest)
	switch {
	case !sent || (resp == nil && classify.Of(err) == classify.ClassUnavailable):
		c.refused = err
		return nil, nil
	case resp == nil:
		return nil, err
	}
	c.lastStatus = resp.StatusCode
	if err == nil || !classify.Of(err).Retryable() {
		return resp, nil
	}
	if ra, ok := classify.RetryAfter(err); ok && ra > c.t.maxRetryAfter {
		// Waiting less than the partner asked would be early; waiting longer
		// than the cap is not ours to do in process: the caller decides.
		return resp, nil
	}
	return resp, &responseError{err: err, resp: resp}
}

// withLastStatus marks err with the status of the latest response, if an
// attempt got one and err does not say one already, keeping its class and
// Retry-After hint.
func (c *call) withLastStatus(err error) error {
	if err == nil || c.lastStatus == 0 || classify.Status(err) != 0 {
		return err
	}
	ra, _ := classify.RetryAfter(err)
	return &classify.Error{Class: classify.Of(err), Status: c.lastStatus, RetryAfter: ra, Err: err}
}

// contextEnded is the error of a call whose context ended: it matches
// ctxErr with errors.Is and has its class (ClassUnavailable for a
// cancellation, ClassEphemeral for a deadline), with the latest response's
// status if there was one.
func (c *call) contextEnded(ctxErr error) error {
	return &classify.Error{
		Class:  classify.Of(ctxErr),
		Status: c.lastStatus,
		Err:    fmt.Errorf("resilient: request context ended after %d attempts: %w", c.attempts, ctxErr),
	}
}

// retrying is the Policy's OnRetry: it drains and closes the response that
// is about to be retried, before the wait, so its connection goes back to
// the pool at once; then it calls the user's OnRetry.
func (t *Transport) retrying(attempt int, delay time.Duration, err error) {
	if re, ok := err.(*responseError); ok {
		t.drain(re.resp)
		err = re.err
	}
	if t.onRetry != nil {
		t.onRetry(attempt, delay, err)
	}
}

// responseError is an attempt's classified error together with the
// response that will be drained if the attempt is retried.
type responseError struct {
	err  error
	resp *http.Response
}

func (e *responseError) Error() string { return e.err.Error() }
func (e *responseError) Unwrap() error { return e.err }

// errPanicked settles a breaker's call when the base transport panics.
var errPanicked = errors.New("resilient: base transport panicked")

// attempt sends r once, after the destination's gate, limiters and
// breaker let it through, and classifies the outcome. It returns the
// response (if any) with its classification (nil for ClassOK), or the
// transport's error; sent is false when r was refused before being sent,
// in which case r's body has been closed.
func (t *Transport) attempt(ctx context.Context, r *http.Request, dest string) (resp *http.Response, sent bool, err error) {
	if err := t.admit(ctx, dest); err != nil {
		closeBody(r)
		return nil, false, err
	}
	var done func(error)
	if t.breakers != nil {
		b := t.breakers.For(dest)
		if cb, ok := b.(*health.CircuitBreaker); ok {
			// One step, with the func on the stack (see CircuitBreaker.Do).
			err = cb.Do(ctx, func(context.Context) error {
				sent = true
				resp, err = t.send(r)
				return err
			})
			if !sent {
				closeBody(r)
			}
			return resp, sent, err
		}
		if done, err = b.Allow(ctx); err != nil {
			closeBody(r)
			return nil, false, err
		}
		settled := false
		defer func() {
			if !settled {
				done(classify.Permanent(errPanicked)) // a class the breaker ignores
			}
		}()
		resp, err = t.send(r)
		settled = true
		done(err)
		return resp, true, err
	}
	resp, err = t.send(r)
	return resp, true, err
}

// send makes the request through the base transport and classifies the
// response.
func (t *Transport) send(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	return resp, t.classify(resp)
}

// admit asks the destination's gate and waits for its rate limiters.
func (t *Transport) admit(ctx context.Context, dest string) error {
	if t.gates != nil {
		if g := t.gates(dest); g != nil {
			if err := g.Allow(ctx); err != nil {
				return err
			}
		}
	}
	if t.limiter != nil {
		if err := waitTurn(ctx, t.limiter); err != nil {
			return err
		}
	}
	if t.limiters != nil {
		if l := t.limiters(dest); l != nil {
			return waitTurn(ctx, l)
		}
	}
	return nil
}

// retrySafe reports whether req may be sent more than once: its method is
// one of the retried methods or it carries an idempotency key, and its body
// (if any) can be replayed.
func (t *Transport) retrySafe(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if t.idemHeader != "" {
		if v := req.Header[t.idemHeader]; len(v) > 0 && v[0] != "" {
			return true
		}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if t.methods != nil {
		return t.methods[method]
	}
	for _, m := range idempotentMethods {
		if m == method {
			return true
		}
	}
	return false
}
