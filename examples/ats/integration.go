package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
	"github.com/outbound-go/outbound/tokencache"
)

// atsRules classify the scoring API's answers. Its team added status codes
// for the special cases; before that, every bad request came
// back as a 500 and was retried forever.
var atsRules = classify.HTTPRules{Statuses: map[int]classify.Class{
	http.StatusConflict:            classify.ClassDuplicate, // "we already have this result": mark it processed
	http.StatusUnprocessableEntity: classify.ClassDiscard,   // an invalid record: drop it, with the reason
	http.StatusPreconditionFailed:  classify.ClassDiscard,   // the candidate never completed the assessment
}}

// Config configures the ATS integration.
type Config struct {
	// BaseURL is the scoring API, e.g. "https://scoring.example.com".
	BaseURL string
	// TokenURL, ClientID and ClientSecret are the machine-to-machine
	// credentials (OAuth2 client credentials).
	TokenURL, ClientID, ClientSecret string
	// Outbox holds the results until the API has them.
	Outbox delivery.Store
	// Tokens shares the token between instances; nil means this process
	// only.
	Tokens tokencache.Store
	// Transport carries the requests; nil means a transport from
	// httpclient.NewTransport with MaxConns connections per host.
	Transport http.RoundTripper
	// MaxConns bounds connections to the API (one shared client,
	// 25 connections). Zero means 25.
	MaxConns int
	// RatePerSecond bounds requests per second. Zero means 10.
	RatePerSecond float64
	// Backoff is the retry schedule; nil means 1m, 3m, 9m, ....
	Backoff retry.Backoff
	// ProbeEvery is how often the API's health endpoint is checked. Zero
	// means 30s.
	ProbeEvery time.Duration
	// PollInterval is how often the dispatcher looks for due retries when
	// nothing wakes it. Zero means 1s.
	PollInterval time.Duration
	// BreakerOpen is how long the breaker stays open after the API fails
	// repeatedly. Zero means 30s.
	BreakerOpen time.Duration
	// Observer, if set, sees every outcome.
	Observer delivery.Observer
}

// Integration sends completed candidates' results to the scoring API.
type Integration struct {
	outbox     delivery.Store
	cache      *tokencache.Cache
	monitor    *health.Monitor
	dispatcher *delivery.Dispatcher
}

// NewIntegration wires the integration: one shared client with bounded
// connections and keep-alive, one cached token for every request, a health
// check and a breaker so an outage leaves a backlog instead of failures,
// and a dispatcher that sends at most 100 records per run.
func NewIntegration(cfg Config) (*Integration, error) {
	if cfg.BaseURL == "" || cfg.Outbox == nil {
		return nil, errors.New("ats: Config.BaseURL and Config.Outbox are required")
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 25
	}
	if cfg.RatePerSecond == 0 {
		cfg.RatePerSecond = 10
	}
	if cfg.ProbeEvery == 0 {
		cfg.ProbeEvery = 30 * time.Second
	}
	base := cfg.Transport
	if base == nil {
		t, err := httpclient.NewTransport(httpclient.Config{MaxConnsPerHost: cfg.MaxConns})
		if err != nil {
			return nil, err
		}
		base = t
	}
	plain := &http.Client{Transport: base, Timeout: 30 * time.Second}

	cache, err := tokencache.New(tokencache.ClientCredentials(&clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL,
	}, plain), tokencache.Config{Store: cfg.Tokens, Key: "scoring-api"})
	if err != nil {
		return nil, err
	}
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: &http.Client{Transport: &tokencache.Transport{Base: base, Cache: cache}, Timeout: 30 * time.Second},
		Build:  postResult(cfg.BaseURL),
		Rules:  atsRules,
	})
	if err != nil {
		return nil, errors.Join(err, cache.Close())
	}
	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{
		URL: cfg.BaseURL + "/health", Client: plain,
		Validate: health.JSONField("status", "ok"), // their first health endpoint just said 200
	})
	if err != nil {
		return nil, errors.Join(err, cache.Close())
	}
	// A probe may take as long as the interval, at most 5s: while the API
	// is down, records wait about that long before looking again.
	monitor, err := health.NewMonitor(health.MonitorConfig{
		Name: "scoring-api", Checker: checker, Interval: cfg.ProbeEvery, Timeout: min(cfg.ProbeEvery, 5*time.Second),
	})
	if err != nil {
		return nil, errors.Join(err, cache.Close())
	}
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "scoring-api", OpenTimeout: cfg.BreakerOpen})
	if err != nil {
		return nil, errors.Join(err, cache.Close())
	}
	gate, err := health.NewGate(health.GateConfig{Monitor: monitor, Breaker: breaker})
	if err != nil {
		return nil, errors.Join(err, cache.Close())
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: cfg.Outbox,
		Deliverer: delivery.Chain(send,
			delivery.WithRateLimit(rate.NewLimiter(rate.Limit(cfg.RatePerSecond), max(1, int(cfg.RatePerSecond/2)))),
			delivery.WithBreaker(breaker),
		),
		Policy:       retry.Policy{Backoff: cfg.Backoff},
		Concurrency:  4,
		MaxPerRun:    100, // a bounded run
		Gate:         gate,
		Observer:     cfg.Observer,
		PollInterval: cfg.PollInterval,
	})
	if err != nil {
		return nil, errors.Join(err, cache.Close())
	}
	return &Integration{outbox: cfg.Outbox, cache: cache, monitor: monitor, dispatcher: d}, nil
}

// Submit records completed results in the outbox. It is what the service
// calls when scoring finishes; resubmitting a result changes nothing.
func (in *Integration) Submit(ctx context.Context, results ...Result) error {
	msgs := make([]delivery.Message, len(results))
	for i, r := range results {
		m, err := r.message()
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	_, err := in.outbox.Enqueue(ctx, msgs...)
	return err
}

// Run delivers results until ctx ends, woken by every Submit and by retries
// falling due; never by its own bookkeeping.
func (in *Integration) Run(ctx context.Context) error {
	if err := in.monitor.Start(ctx); err != nil {
		return err
	}
	defer in.monitor.Stop()
	return in.dispatcher.Run(ctx)
}

// Close releases the token cache.
func (in *Integration) Close() error { return in.cache.Close() }

// postResult builds POST {base}/v1/candidates/{candidate}/results.
func postResult(base string) httpdelivery.RequestBuilder {
	return func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
		u := fmt.Sprintf("%s/v1/candidates/%s/results", base, url.PathEscape(m.Key))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(m.Payload))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
}
