package resilient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/internal/httpsyntax"
	"github.com/outbound-go/outbound/retry"
	"github.com/outbound-go/outbound/tokencache"
)

// Defaults of Config.
const (
	// DefaultIdempotencyHeader is the header whose presence makes a request
	// of any method safe to retry.
	DefaultIdempotencyHeader = "Idempotency-Key"
	// DefaultMaxDrain is how much of a retried response's body is read and
	// discarded so that its connection can be reused. A longer body is
	// closed unread and the transport drops that connection instead.
	DefaultMaxDrain = 256 << 10
)

// Gate says whether a destination may be tried now: nil to go ahead, or an
// error (class ClassUnavailable, ideally with a Retry-After hint) to hold
// off. *health.Gate and *health.Monitor satisfy it.
type Gate interface {
	Allow(ctx context.Context) error
}

// Config configures a [Transport] (and, through its HTTP field, the client
// [NewClient] builds). Every field's zero value selects a safe default.
type Config struct {
	// Rules classify responses: which statuses are retried (by default 408,
	// 425, 429 and 5xx) and which are final. The zero value is the default
	// mapping of classify.DefaultStatusClass. With a Body rule, RoundTrip
	// reads up to Rules.BodyLimit() bytes of every response to classify it
	// and hands the caller a body that still starts at its first byte.
	Rules classify.HTTPRules

	// Policy schedules the in-process retries: the backoff, MaxAttempts,
	// MaxElapsed, and MaxRetryAfter, the longest Retry-After waited for (a
	// response asking for longer is returned at once rather than retried
	// early). Its OnRetry, if set, sees each retried attempt's error. The
	// zero Policy means DefaultPolicy(), not retry.DefaultPolicy(), whose
	// minutes-long waits suit a durable dispatcher and not a caller blocked
	// in http.Client.Do. Set MaxAttempts to 1 to never retry.
	Policy retry.Policy

	// Breakers holds one circuit breaker per destination. Nil means a set of
	// the transport's own with health's defaults (opens after 5 Ephemeral
	// failures in a row, probes again after 30s). Breakers count only
	// Ephemeral outcomes: a storm of 404s or 422s never opens one.
	Breakers *health.Breakers
	// NoBreaker turns the circuit breakers off; Breakers is then ignored.
	NoBreaker bool

	// Gates, if set, returns the gate for a destination (nil for none). A
	// closed gate refuses the request before anything is sent. It is
	// called before every attempt, from many goroutines, so it should be a
	// cheap lookup; so should Limiters and Destination.
	Gates func(destination string) Gate

	// Limiter, if set, paces the attempts to every destination together.
	Limiter *rate.Limiter
	// Limiters, if set, returns the limiter for a destination (nil for
	// none), applied after Limiter.
	Limiters func(destination string) *rate.Limiter

	// Tokens, if set, authenticates every attempt with the cache's bearer
	// token through a tokencache.Transport over the base transport (which
	// replays once with a fresh token after a 401).
	Tokens *tokencache.Cache

	// Destination names the destination of a request, the key of its
	// breaker, gate and limiter. Nil means the request URL's Host
	// (host[:port] as written in the URL).
	Destination func(req *http.Request) string

	// RetryMethods lists the methods that are retried without an
	// idempotency key. Nil means the methods RFC 9110 defines as
	// idempotent: GET, HEAD, OPTIONS, TRACE, PUT and DELETE. An empty,
	// non-nil slice retries no method by itself.
	RetryMethods []string
	// IdempotencyHeader names the header that makes a request of any
	// method safe to retry when it is present with a non-empty value.
	// Empty means DefaultIdempotencyHeader; "-" means no header does.
	IdempotencyHeader string

	// MaxDrain bounds how much of a retried response's body is discarded.
	// Zero means DefaultMaxDrain.
	MaxDrain int64

	// HTTP configures the client that NewClient builds: connections per
	// host (25 by default), timeouts, and the dial guard
	// (BlockPrivateAddresses). NewTransport ignores it.
	HTTP httpclient.Config
}

// DefaultPolicy returns the policy a zero Config.Policy means, made for a
// caller waiting in http.Client.Do: 4 attempts, waits of about 0.5s, 1.5s
// and 4.5s (the library's factor-3 backoff, with equal jitter), a partner's
// Retry-After honoured up to 20s, and no retry that would start later than
// 30s after the first attempt.
func DefaultPolicy() retry.Policy {
	return retry.Policy{
		Backoff: retry.Exponential{
			Initial: 500 * time.Millisecond,
			Max:     10 * time.Second,
			Factor:  3,
			Jitter:  retry.EqualJitter,
		},
		MaxAttempts:   4,
		MaxElapsed:    30 * time.Second,
		MaxRetryAfter: 20 * time.Second,
	}
}

// isZeroPolicy reports whether p is the zero Policy.
func isZeroPolicy(p retry.Policy) bool {
	return p.Backoff == nil && p.MaxAttempts == 0 && p.MaxElapsed == 0 &&
		p.MaxRetryAfter == 0 && p.OnRetry == nil
}

// idempotentMethods are the methods RFC 9110 section 9.2.2 defines as
// idempotent.
var idempotentMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete,
}

// validate reports every invalid setting of c, each naming its field.
func (c Config) validate() error {
	var errs []error
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("resilient: Config.Policy: %w", err))
	}
	if c.Rules.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("resilient: Config.Rules.MaxBody must not be negative, got %d", c.Rules.MaxBody))
	}
	if c.MaxDrain < 0 {
		errs = append(errs, fmt.Errorf("resilient: Config.MaxDrain must not be negative, got %d", c.MaxDrain))
	}
	if h := c.IdempotencyHeader; h != "" && h != "-" && !httpsyntax.Token(h) {
		errs = append(errs, fmt.Errorf("resilient: Config.IdempotencyHeader %q is not a valid header name", h))
	}
	for _, m := range c.RetryMethods {
		if !httpsyntax.Token(m) {
			errs = append(errs, fmt.Errorf("resilient: Config.RetryMethods: %q is not a valid method", m))
		}
	}
	return errors.Join(errs...)
}
