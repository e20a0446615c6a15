package deliverytest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/webhook"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// Defaults of PartnerConfig.
const (
	DefaultHealthPath = "/health"
	DefaultTokenPath  = "/oauth/token"
	// DefaultMaxBody bounds the request bodies the partner reads and keeps;
	// a larger body is answered 413.
	DefaultMaxBody = 1 << 20
)

// PartnerConfig scripts a [Partner]. The zero value is a partner that
// accepts every request with 200 OK, on loopback TCP, with a health
// endpoint at /health.
//
// For every request to its API (any path but the health and token paths)
// the partner decides an answer in this order:
//
//  1. during an outage, the Outage answer (503 by default);
//  2. with an Issuer, 401 for a missing or invalid bearer token;
//  3. with Webhooks, 401 for a webhook whose signature does not verify or
//     that replays one it processed;
//  4. with Idempotent, AlreadyProcessed() for a key it already holds;
//  5. the first Rule that answers;
//  6. Respond, if set and it answers;
//  7. Default.
//
// Then Latency and the answer's Delay hold it back, flapping may cut the
// connection, and the answer (or its Fault) is given.
type PartnerConfig struct {
	// InMemory serves the partner over in-process pipes instead of loopback
	// TCP. Reach it through Partner.Client, Partner.NewClient or
	// Partner.DialContext. Everything then runs on channels and timers, so
	// the whole HTTP stack (client transport, connection pool, server,
	// faults) works inside a testing/synctest bubble, where real sockets
	// do not let the fake clock advance. Create the partner inside the
	// bubble. False means a real listener on 127.0.0.1.
	InMemory bool

	// Rules script the answers; the first that answers decides.
	Rules []Rule
	// Respond, if set, is asked when no rule answered, and answers by
	// returning true: the escape hatch. It is called without the partner's
	// lock held, concurrently, and may call the partner's methods.
	Respond func(r *Request) (Response, bool)
	// Default answers requests nothing else decided. The zero value is 200
	// OK with an empty body.
	Default Response

	// Latency holds back every API answer this long (outage answers and
	// 401s for a missing or invalid token excepted), like a partner's
	// processing time.
	Latency time.Duration
	// Idempotent makes the partner honour Idempotency-Key: a request whose
	// key it already holds is answered with AlreadyProcessed() and not
	// processed again. False means it processes a resend again, which
	// Partner.Reprocessed reports.
	Idempotent bool
	// Outage schedules an outage. The zero value schedules none; see also
	// Partner.SetDown.
	Outage Outage
	// FlapEvery, when positive, makes every FlapEvery-th API request (and,
	// counted separately, every FlapEvery-th health check) lose its
	// connection mid-response, as FaultCut does: 2 is "every other time",
	// a flapping link. Requests are counted from the start of flapping. Zero
	// means no flapping; see also Partner.SetFlapping.
	FlapEvery int

	// Issuer, if set, serves its OAuth2 token endpoint at TokenPath, and
	// the API then requires a valid bearer token from it (401 otherwise).
	Issuer *tokentest.Issuer
	// TokenPath is where the Issuer is served. Empty means
	// DefaultTokenPath.
	TokenPath string
	// Webhooks, if set, makes the partner a Standard Webhooks receiver that
	// checks every API request with this Verifier (package
	// delivery/webhook), so a test proves its sender signs correctly. A
	// request that does not verify (no or a wrong signature, a changed
	// body, id or timestamp, a timestamp outside the Verifier's tolerance)
	// is answered 401 invalid_signature and not processed; so is a replay:
	// a request with the same webhook-id, webhook-timestamp and
	// webhook-signature as one the partner already processed (answered
	// 2xx). A retry of a request that was answered with a failure is not a
	// replay, even within the same second, where its signature is the
	// same: it was never acted on. Request.SignatureError says why a
	// request was refused; Stats.InvalidSignatures and Stats.Replays count
	// the refusals.
	Webhooks *webhook.Verifier
	// HealthPath is the health endpoint: 200 {"status":"ok"}, or 503
	// {"status":"down"} during an outage. Empty means DefaultHealthPath.
	HealthPath string

	// IdempotencyHeader and CorrelationHeader name the headers recorded as
	// Request.IdempotencyKey and Request.CorrelationID. Empty means the
	// delivery package's defaults (Idempotency-Key, X-Correlation-ID).
	IdempotencyHeader, CorrelationHeader string
	// MaxBody bounds the request bodies the partner reads; zero means
	// DefaultMaxBody.
	MaxBody int64
}

// Outage is a scheduled window during which the partner is down: every API
// request gets the outage answer and the health endpoint fails. It begins
// once At has passed since the partner started and AfterRequests API
// requests have been answered, whichever is later, and lasts For.
type Outage struct {
	// At is when the outage begins, from the partner's start.
	At time.Duration
	// AfterRequests is how many API requests the partner answers before
	// the outage begins.
	AfterRequests int
	// For is how long the outage lasts. Zero means no scheduled outage.
	For time.Duration
	// Response is the answer during the outage. The zero value means 503
	// Service Unavailable.
	Response Response
}

func (c PartnerConfig) withDefaults() (PartnerConfig, error) {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i := range c.Rules {
		add(c.Rules[i].validate(i))
	}
	add(c.Default.validate("PartnerConfig.Default"))
	add(c.Outage.Response.validate("PartnerConfig.Outage.Response"))
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Latency", int64(c.Latency)}, {"FlapEvery", int64(c.FlapEvery)}, {"MaxBody", c.MaxBody},
		{"Outage.At", int64(c.Outage.At)}, {"Outage.AfterRequests", int64(c.Outage.AfterRequests)},
		{"Outage.For", int64(c.Outage.For)},
	} {
		if f.v < 0 {
			add(fmt.Errorf("deliverytest: PartnerConfig.%s must not be negative, got %d", f.name, f.v))
		}
	}
	if c.HealthPath == "" {
		c.HealthPath = DefaultHealthPath
	}
	if c.TokenPath == "" {
		c.TokenPath = DefaultTokenPath
	}
	for _, p := range []struct{ name, v string }{{"HealthPath", c.HealthPath}, {"TokenPath", c.TokenPath}} {
		if !strings.HasPrefix(p.v, "/") {
			add(fmt.Errorf("deliverytest: PartnerConfig.%s %q must start with /", p.name, p.v))
		}
	}
	if c.HealthPath == c.TokenPath {
		add(fmt.Errorf("deliverytest: PartnerConfig.HealthPath and TokenPath are both %q", c.HealthPath))
	}
	if c.IdempotencyHeader == "" {
		c.IdempotencyHeader = httpdelivery.DefaultIdempotencyHeader
	}
	if c.CorrelationHeader == "" {
		c.CorrelationHeader = httpdelivery.DefaultCorrelationHeader
	}
	c.IdempotencyHeader = http.CanonicalHeaderKey(c.IdempotencyHeader)
	c.CorrelationHeader = http.CanonicalHeaderKey(c.CorrelationHeader)
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Outage.Response.Status == 0 && c.Outage.Response.Fault == FaultNone {
		c.Outage.Response.Status = http.StatusServiceUnavailable
		if c.Outage.Response.Body == "" {
			c.Outage.Response.Body = `{"error":"service unavailable"}`
		}
	}
	// Copy the rules so that later changes to the caller's slice cannot
	// race with the partner.
	rules := slices.Clone(c.Rules)
	for i := range rules {
		rules[i].Responses = slices.Clone(rules[i].Responses)
	}
	c.Rules = rules
	return c, errors.Join(errs...)
}
