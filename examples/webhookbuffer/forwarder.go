package main

import (
	"net/http"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// ForwarderConfig configures the dispatcher that forwards buffered webhooks.
type ForwarderConfig struct {
	// Outbox is where the Buffer stored the webhooks.
	Outbox delivery.Store
	// Backend is the URL every webhook is POSTed to.
	Backend string
	// Client sends to the backend; nil means a client from
	// httpclient.New with 8 connections per host: what the backend can
	// take, however many webhooks arrive (the throttle of the pattern).
	Client *http.Client
	// Workers is how many webhooks are forwarded at once; zero means 8.
	// Webhooks of one group never overlap, whatever this is.
	Workers int
	// Backoff is the retry schedule; nil means 1m, 3m, 9m, ...
	Backoff retry.Backoff
	// BreakerOpen is how long the forwarder leaves a failing backend alone
	// before trying it again; zero means 10s.
	BreakerOpen time.Duration
	// PollInterval is how often to look for due retries when nothing wakes
	// the forwarder; zero means 1s.
	PollInterval time.Duration
	// Observer, if set, sees every outcome.
	Observer delivery.Observer
}

// NewForwarder returns the dispatcher that forwards buffered webhooks to
// the backend in per-group order. A webhook whose attempt fails waits for
// its retry and holds back the later webhooks of its group only; the
// backend's 5xx and timeouts are retried, and a backend that keeps failing
// opens a breaker, so webhooks wait in the outbox instead of failing.
func NewForwarder(cfg ForwarderConfig) (*delivery.Dispatcher, error) {
	client := cfg.Client
	if client == nil {
		c, err := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
		if err != nil {
			return nil, err
		}
		client = c
	}
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(cfg.Backend, "application/octet-stream"), // the webhook's own Content-Type is in its headers
	})
	if err != nil {
		return nil, err
	}
	open := cfg.BreakerOpen
	if open == 0 {
		open = 10 * time.Second
	}
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "backend", OpenTimeout: open})
	if err != nil {
		return nil, err
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = 8
	}
	return delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:        cfg.Outbox,
		Deliverer:    delivery.Chain(send, delivery.WithBreaker(breaker)),
		Policy:       retry.Policy{Backoff: cfg.Backoff, MaxAttempts: 20},
		Concurrency:  workers,
		MaxPerRun:    500,
		PollInterval: cfg.PollInterval,
		Observer:     cfg.Observer,
	})
}
