package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// crmMaxInFlight bounds crm's requests in flight, for every dispatcher on
// the outbox together.
const crmMaxInFlight = 4

// pipeline is the sending side, as a service would set it up: one
// dispatcher draining the outbox, with a pipeline per destination (its own
// client, URL and protection), a token cache for ats, and a health monitor
// and a breaker for ats.
type pipeline struct {
	cache      *tokencache.Cache
	monitor    *health.Monitor
	breaker    *health.CircuitBreaker
	dispatcher *delivery.Dispatcher
	clients    []*http.Client // to close their idle connections when done
}

// rules classify the partners' answers: a body saying "already processed"
// is a duplicate (delivered), one saying "invalid record" means the record
// must be dropped. Every other status follows the defaults: 2xx ok; 408,
// 425, 429 and 5xx retried; other 4xx dead-lettered. A 429 (or a 503 with
// Retry-After) and a refused connection are the destination's, not the
// record's: the dispatcher pauses the destination instead of retrying the
// record (delivery.DestinationFault).
var rules = classify.HTTPRules{Body: classify.FirstMatch(
	classify.BodyContains(deliverytest.AlreadyProcessedText, classify.ClassDuplicate),
	classify.BodyContains(deliverytest.InvalidRecordText, classify.ClassDiscard),
)}

// sentHeader carries the time a request was built, in Unix nanoseconds, so
// that the summary can tell a request sent while its destination was
// paused from one that was already on its way when the pause began.
const sentHeader = "X-Quickstart-Sent"

// stamped adds sentHeader to the requests b builds.
func stamped(b httpdelivery.RequestBuilder) httpdelivery.RequestBuilder {
	return func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
		req, err := b(ctx, m)
		if err == nil && req != nil {
			req.Header.Set(sentHeader, strconv.FormatInt(time.Now().UnixNano(), 10))
		}
		return req, err
	}
}

// endpoints are where the partners are reached.
type endpoints struct {
	ats, crm   *deliverytest.Partner
	webhooksAt string // webhooks' base URL, through its plug
	issuer     *tokentest.Issuer
}

func newPipeline(cfg config, ep endpoints, store delivery.Store, obs delivery.Observer) (*pipeline, error) {
	p := &pipeline{}
	// A rate limit per destination, applied when records are claimed: a
	// destination with no token is not claimed, so no worker waits in its
	// limiter, and nothing waiting for a token is sent during a pause.
	limit := func() *rate.Limiter {
		if cfg.rate <= 0 {
			return nil
		}
		return rate.NewLimiter(rate.Limit(cfg.rate), max(1, int(cfg.rate/10)))
	}
	clientCfg := httpclient.Config{MaxConnsPerHost: cfg.maxConns, Timeout: 10 * time.Second}
	deliverer := func(client *http.Client, url string) (delivery.Deliverer, error) {
		return httpdelivery.New(httpdelivery.Config{
			Client: client,
			Build:  stamped(httpdelivery.PostTo(url, "application/json")),
			Rules:  rules,
		})
	}

	// ats: one client for everything that talks to it, so the connection
	// bound holds for API calls, token mints and probes alike; a token
	// shared through tokencache; a health monitor and a breaker.
	atsClient, err := ep.ats.NewClient(clientCfg)
	if err != nil {
		return nil, err
	}
	p.cache, err = tokencache.New(tokencache.ClientCredentials(ep.issuer.Config(ep.ats.TokenURL()), atsClient), tokencache.Config{Key: ats})
	if err != nil {
		return nil, err
	}
	atsAPI := &http.Client{Transport: &tokencache.Transport{Base: atsClient.Transport, Cache: p.cache}, Timeout: atsClient.Timeout}
	atsSend, err := deliverer(atsAPI, ep.ats.URL+"/v1/candidate-results")
	if err != nil {
		return nil, err
	}
	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{
		URL: ep.ats.HealthURL(), Client: atsClient, Timeout: 20 * cfg.unit,
		Validate: health.JSONField("status", "ok"), // a bare 200 proves little
	})
	if err != nil {
		return nil, err
	}
	p.monitor, err = health.NewMonitor(health.MonitorConfig{
		Name: ats, Checker: checker,
		Interval: 5 * cfg.unit, Timeout: 20 * cfg.unit, FailureThreshold: 2, SuccessThreshold: 2,
	})
	if err != nil {
		return nil, err
	}
	p.breaker, err = health.NewCircuitBreaker(health.BreakerConfig{Name: ats, ConsecutiveFailures: 5, OpenTimeout: 10 * cfg.unit})
	if err != nil {
		return nil, err
	}
	atsGate, err := health.NewGate(health.GateConfig{Monitor: p.monitor, Breaker: p.breaker})
	if err != nil {
		return nil, err
	}

	// crm: its own client; at most crmMaxInFlight requests at once.
	crmClient, err := ep.crm.NewClient(clientCfg)
	if err != nil {
		return nil, err
	}
	crmSend, err := deliverer(crmClient, ep.crm.URL+"/api/v2/activities")
	if err != nil {
		return nil, err
	}

	// webhooks: a plain client to a URL, like any webhook endpoint.
	whClient, err := httpclient.New(clientCfg)
	if err != nil {
		return nil, err
	}
	p.clients = append(p.clients, atsClient, crmClient, whClient)
	whSend, err := deliverer(whClient, ep.webhooksAt+"/hooks/candidates")
	if err != nil {
		return nil, err
	}

	p.dispatcher, err = delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store,
		Destinations: map[string]delivery.DestinationConfig{
			ats:      {Deliverer: delivery.Chain(atsSend, delivery.WithBreaker(p.breaker)), Gate: atsGate, RateLimit: limit()},
			crm:      {Deliverer: crmSend, MaxInFlight: crmMaxInFlight, RateLimit: limit()},
			webhooks: {Deliverer: whSend, RateLimit: limit()},
		},
		Policy: retry.Policy{
			// The default schedule (1m, 3m, 9m, ... capped at 6h), with
			// minutes turned into units.
			Backoff:       retry.Exponential{Initial: cfg.unit, Factor: 3, Max: 360 * cfg.unit},
			MaxAttempts:   retry.DefaultMaxAttempts,
			MaxRetryAfter: 360 * cfg.unit,
		},
		// A destination that refuses connections is paused for 20, 60,
		// 180 units (at least a second each), then probed by one record.
		PauseBackoff:   retry.Exponential{Initial: 20 * cfg.unit, Factor: 3, Max: 200 * cfg.unit},
		Concurrency:    cfg.concurrency,
		Observer:       obs,
		AttemptTimeout: 5 * time.Second,
		PollInterval:   5 * cfg.unit,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// start starts probing and dispatching; the returned function stops both
// and waits for them.
func (p *pipeline) start(ctx context.Context) (stop func() error, err error) {
	ctx, cancel := context.WithCancel(ctx)
	if err := p.monitor.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- p.dispatcher.Run(ctx) }()
	return func() error {
		cancel()
		err := <-done
		p.monitor.Stop()
		for _, c := range p.clients {
			c.CloseIdleConnections()
		}
		if cerr := p.cache.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close token cache: %w", cerr)
		}
		return err
	}, nil
}
