package bench

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The end-to-end comparison: records enqueued on PostgreSQL are delivered
// over real HTTP to a loopback partner that answers in 5 ms, fails 10% of
// requests with 503, holds 1% past the client's timeout and goes down for
// 5 s once half the records were accepted (see faultyPartner). Each
// contender is set up the way a user would set it up for such a partner,
// with the same concurrency, per-attempt timeout, retry schedule and
// breaker trip:
//
//   - outbound: the PostgreSQL store, a Dispatcher with the HTTP deliverer
//     behind a health.CircuitBreaker (delivery.WithBreaker), retries
//     scheduled by a retry.Policy.
//   - River: riverpgxv5 workers whose Work POSTs with go-retryablehttp
//     (a few in-process retries) inside a sony/gobreaker/v2 breaker, and
//     River's own retries scheduled by a ClientRetryPolicy of the same
//     schedule; a job meeting an open breaker is snoozed (JobSnooze,
//     which spends no attempt) for the breaker's open time.
//
// The records are enqueued before the clock starts; the run ends when the
// library holds every record as settled (delivered, or given up). The
// partner then says which records it never accepted (lost) and which it
// accepted twice (duplicates: a held request was processed, and the
// client, having timed out, sent it again).

// The schedule and protection both contenders use.
const (
	// E2ERetryBase is the delay before the first retry.
	E2ERetryBase = 100 * time.Millisecond
	// E2ERetryFactor multiplies the delay after each failed attempt.
	E2ERetryFactor = 3
	// E2ERetryCap caps the delay between attempts.
	E2ERetryCap = 5 * time.Second
	// E2EMaxAttempts is the attempts a record gets before it is given
	// up (River's default).
	E2EMaxAttempts = 25
	// E2EBreakerFailures is the failures in a row that open the breaker.
	E2EBreakerFailures = 5
	// E2EBreakerOpen is how long an open breaker refuses before it lets a
	// probe through.
	E2EBreakerOpen = 2 * time.Second
	// E2EHTTPRetries is how many times go-retryablehttp retries a request
	// within one River attempt (RetryMax), 100 ms then 200 ms apart.
	E2EHTTPRetries = 2
)

// E2EConfig is one run of the end-to-end comparison. Zero fields take the
// defaults in brackets.
type E2EConfig struct {
	// PG is the PostgreSQL URL; each contender works in a fresh schema
	// there. Required.
	PG string
	// Records is how many records are enqueued and delivered (10,000).
	Records int
	// Concurrency is the workers of each contender (16).
	Concurrency int
	// AttemptTimeout bounds each HTTP attempt (1s).
	AttemptTimeout time.Duration
	// Latency is how long the partner takes to answer (5ms).
	Latency time.Duration
	// FailShare is the share of requests answered 503 (0.10).
	FailShare float64
	// HoldShare is the share of requests processed and then held past
	// AttemptTimeout (0.01).
	HoldShare float64
	// Hold is how long a held request is held, at most: the partner stops
	// when the client gives up (3s).
	Hold time.Duration
	// DownFor is how long the partner is down once half the records were
	// accepted (5s).
	DownFor time.Duration
	// Seed decides which requests fail and which are held; the same seed
	// gives every contender the same faults per record. Zero is a seed
	// like any other.
	Seed uint64
}

// WithDefaults returns c with its zero fields set to their defaults.
func (c E2EConfig) WithDefaults() E2EConfig {
	setDefault(&c.Records, 10_000)
	setDefault(&c.Concurrency, 16)
	setDefault(&c.AttemptTimeout, time.Second)
	setDefault(&c.Latency, 5*time.Millisecond)
	setDefault(&c.FailShare, 0.10)
	setDefault(&c.HoldShare, 0.01)
	setDefault(&c.Hold, 3*time.Second)
	setDefault(&c.DownFor, 5*time.Second)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (c E2EConfig) validate() error {
	switch {
	case c.PG == "":
		return errors.New("bench: e2e: E2EConfig.PG is required")
	case c.Records < 2, c.Concurrency < 1:
		return errors.New("bench: e2e: Records must be at least 2 and Concurrency positive")
	case c.AttemptTimeout < 0, c.Latency < 0, c.Hold < 0, c.DownFor < 0:
		return errors.New("bench: e2e: durations must not be negative")
	case c.FailShare < 0, c.HoldShare < 0, c.FailShare+c.HoldShare >= 1:
		return errors.New("bench: e2e: FailShare and HoldShare must be shares that leave some requests to succeed")
	}
	return nil
}

// E2EContender is a delivery stack under comparison.
type E2EContender struct {
	// Name is the row's label.
	Name string
	// Ours marks outbound's row.
	Ours bool
	// open sets the stack up on a fresh schema, with its records
	// enqueued, sending to target.
	open func(ctx context.Context, cfg E2EConfig, target string) (e2eStack, error)
}

// e2eStack is a contender set up with its records enqueued.
type e2eStack interface {
	// run works until the library holds all cfg.Records records as
	// settled and returns how many it gave up on (dead-lettered,
	// discarded). It returns an error if ctx ends first or the library
	// fails.
	run(ctx context.Context) (gaveUp int, err error)
	// close stops everything, drops the schema and closes the pool.
	close(ctx context.Context) error
}

// E2EContenders returns the stacks compared, ours first.
func E2EContenders() []E2EContender {
	return []E2EContender{
		{Name: "outbound (postgres + Dispatcher + httpdelivery + breaker)", Ours: true, open: openE2EOutbound},
		{Name: "River + go-retryablehttp + gobreaker", open: openE2ERiver},
	}
}

// E2EResult is what one contender's run measured, at the partner and in
// the library.
type E2EResult struct {
	// Records is how many records were enqueued.
	Records int
	// Elapsed is the time from starting the workers until the library
	// held every record as settled.
	Elapsed time.Duration
	// Requests is every request the partner received.
	Requests int
	// WhileDown is the requests it received while down (all answered 503).
	WhileDown int
	// Served503 is the requests it answered 503, down or not.
	Served503 int
	// Timeouts is the requests it held past the client's timeout.
	Timeouts int
	// Lost is the records the partner never accepted. It must be 0.
	Lost int
	// Duplicates is the records the partner accepted more than once.
	Duplicates int
	// GaveUp is the records the library settled as failed (dead-lettered
	// or discarded) rather than delivered.
	GaveUp int
	// DownAt is when the down window began, from the start of the work,
	// and DownFor how long it lasted; both zero if it never began.
	DownAt, DownFor time.Duration
	// Recovery is the time from the end of the down window to the first
	// record the partner accepted after it; zero if none was.
	Recovery time.Duration
}

// PerSecond returns the records settled per second, or 0 for an empty
// result.
func (r E2EResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// ErrRecordsLost is wrapped by RunE2E's error when the partner never
// accepted some record.
var ErrRecordsLost = errors.New("records lost")

// RunE2E sets c up on a fresh schema of cfg.PG with cfg.Records records
// enqueued, starts a faulty partner, works until c holds every record as
// settled and returns what the partner and c counted. It returns an error
// if cfg is invalid, setting up or working fails, ctx ends first, the
// partner saw a request it could not read, or the partner never accepted
// some record: then the result is returned too, and the error wraps
// ErrRecordsLost.
func RunE2E(ctx context.Context, cfg E2EConfig, c E2EContender) (E2EResult, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return E2EResult{}, err
	}
	partner, err := startFaultyPartner(cfg)
	if err != nil {
		return E2EResult{}, err
	}
	defer partner.close()
	s, err := c.open(ctx, cfg, partner.url)
	if err != nil {
		return E2EResult{}, fmt.Errorf("bench: e2e: %s: open: %w", c.Name, err)
	}
	start := time.Now()
	gaveUp, err := s.run(ctx)
	elapsed := time.Since(start)
	if cerr := s.close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return E2EResult{}, fmt.Errorf("bench: e2e: %s: %w", c.Name, err)
	}
	p := partner.report(cfg.Records, start)
	res := E2EResult{
		Records: cfg.Records, Elapsed: elapsed,
		Requests: p.requests, WhileDown: p.whileDown, Served503: p.served503, Timeouts: p.held,
		Lost: p.lost, Duplicates: p.duplicates, GaveUp: gaveUp,
		DownAt: p.downAt, DownFor: p.downFor,
	}
	if p.resumedAt > 0 {
		res.Recovery = p.resumedAt - p.downAt - p.downFor
	}
	switch {
	case p.malformed > 0 || p.unknown > 0:
		return res, fmt.Errorf("bench: e2e: %s: the partner received %d requests without a record number and accepted %d unknown records", c.Name, p.malformed, p.unknown)
	case res.Lost > 0:
		return res, fmt.Errorf("bench: e2e: %s: %w: %d of %d never accepted by the partner (%d given up by the library)", c.Name, ErrRecordsLost, res.Lost, res.Records, res.GaveUp)
	}
	return res, nil
}
