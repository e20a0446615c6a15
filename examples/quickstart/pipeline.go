package main

import (
	"context"
	"fmt"
	"net/http"
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

// pipeline is the sending side, as a service would set it up: one shared
// client, one token cache, a health monitor and a breaker for the partner,
// and a dispatcher draining the outbox through them.
type pipeline struct {
	cache      *tokencache.Cache
	monitor    *health.Monitor
	breaker    *health.CircuitBreaker
	dispatcher *delivery.Dispatcher
}

// rules classify the partner's answers: a body saying "already processed"
// is a duplicate (delivered), one saying "invalid record" means the record
// must be dropped. Every other status follows the defaults: 2xx ok; 408,
// 425, 429 and 5xx retried; other 4xx dead-lettered.
var rules = classify.HTTPRules{Body: classify.FirstMatch(
	classify.BodyContains(deliverytest.AlreadyProcessedText, classify.ClassDuplicate),
	classify.BodyContains(deliverytest.InvalidRecordText, classify.ClassDiscard),
)}

func newPipeline(cfg config, partner *deliverytest.Partner, issuer *tokentest.Issuer, store delivery.Store, obs delivery.Observer) (*pipeline, error) {
	// One client for everything that talks to the partner, so the
	// connection bound holds for API calls, token mints and probes alike.
	base, err := partner.NewClient(httpclient.Config{MaxConnsPerHost: cfg.maxConns, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	p := &pipeline{}
	p.cache, err = tokencache.New(tokencache.ClientCredentials(issuer.Config(partner.TokenURL()), base), tokencache.Config{Key: "partner"})
	if err != nil {
		return nil, err
	}
	api := &http.Client{Transport: &tokencache.Transport{Base: base.Transport, Cache: p.cache}, Timeout: base.Timeout}

	send, err := httpdelivery.New(httpdelivery.Config{
		Client: api,
		Build:  httpdelivery.PostTo(partner.URL+"/v1/candidate-results", "application/json"),
		Rules:  rules,
	})
	if err != nil {
		return nil, err
	}
	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{
		URL: partner.HealthURL(), Client: base, Timeout: 20 * cfg.unit,
		Validate: health.JSONField("status", "ok"), // a bare 200 proves little
	})
	if err != nil {
		return nil, err
	}
	p.monitor, err = health.NewMonitor(health.MonitorConfig{
		Name: "partner", Checker: checker,
		// While the partner is down, records wait Interval + Timeout
		// before they look again.
		Interval: 5 * cfg.unit, Timeout: 20 * cfg.unit, FailureThreshold: 2, SuccessThreshold: 2,
	})
	if err != nil {
		return nil, err
	}
	p.breaker, err = health.NewCircuitBreaker(health.BreakerConfig{Name: "partner", ConsecutiveFailures: 5, OpenTimeout: 10 * cfg.unit})
	if err != nil {
		return nil, err
	}
	gate, err := health.NewGate(health.GateConfig{Monitor: p.monitor, Breaker: p.breaker})
	if err != nil {
		return nil, err
	}
	var limit delivery.Middleware
	if cfg.rate > 0 {
		limit = delivery.WithRateLimit(rate.NewLimiter(rate.Limit(cfg.rate), max(1, int(cfg.rate/10))))
	}
	p.dispatcher, err = delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:     store,
		Deliverer: delivery.Chain(send, limit, delivery.WithBreaker(p.breaker)),
		Policy: retry.Policy{
			// The default schedule (1m, 3m, 9m, ... capped at 6h), with
			// minutes turned into units.
			Backoff:       retry.Exponential{Initial: cfg.unit, Factor: 3, Max: 360 * cfg.unit},
			MaxAttempts:   retry.DefaultMaxAttempts,
			MaxRetryAfter: 360 * cfg.unit,
		},
		Concurrency:    cfg.concurrency,
		Gate:           gate,
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
		if cerr := p.cache.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close token cache: %w", cerr)
		}
		return err
	}, nil
}
