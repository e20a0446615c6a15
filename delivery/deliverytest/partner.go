package deliverytest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery/httpclient"
)

// Partner is a scriptable fake third-party HTTP API: a "faux backend"
// for failure tests and demos. It answers from a script (see
// [PartnerConfig]), records every request, keeps the books a real partner
// would (which records it holds, which it processed twice), and measures the
// load it saw: connections, requests in flight, health checks.
//
// It runs on loopback TCP, or in memory for testing/synctest
// (PartnerConfig.InMemory). All methods are safe for concurrent use.
type Partner struct {
	// URL is the base URL of the partner's API, without a trailing slash:
	// "http://127.0.0.1:PORT", or "http://partner.test" in memory.
	URL string

	cfg     PartnerConfig
	srv     *httptest.Server
	mem     *memListener
	client  *http.Client
	started time.Time
	closing chan struct{}
	once    sync.Once

	mu         sync.Mutex
	rules      []ruleState
	reqs       []*Request
	afterAt    time.Time // when the Outage.AfterRequests-th request arrived
	manualDown bool
	flapEvery  int
	flapAPI    int
	flapHealth int
	held       map[string]bool
	heldOrder  []string
	processed  map[string]int
	signed     map[string]bool // webhook-id, timestamp and signature of processed webhooks
	stats      Stats
	open       int
	inflight   int
	transports []*http.Transport
}

// Stats is a snapshot of what a partner saw and did.
type Stats struct {
	// Requests counts API requests received.
	Requests int
	// Processed counts requests the partner did the work for: answered 2xx
	// (or cut mid-response after a 2xx decision), not as a duplicate.
	Processed int
	// Delivered counts the distinct Idempotency-Keys the partner holds:
	// the effective exactly-once count.
	Delivered int
	// Reprocessed counts keys processed more than once: the double effects
	// a partner without idempotency would suffer.
	Reprocessed int
	// Duplicates counts requests answered as duplicates ("already
	// processed").
	Duplicates int
	// OutageAnswers counts requests answered with the outage answer.
	OutageAnswers int
	// Unauthorized counts requests refused with 401 for their token.
	Unauthorized int
	// InvalidSignatures counts webhooks refused because their signature
	// did not verify (PartnerConfig.Webhooks), Replays those refused as
	// replays of a webhook already processed.
	InvalidSignatures, Replays int
	// Faults counts requests answered with a fault (hang, reset, cut),
	// flapping included; Flapped counts those cut by flapping.
	Faults, Flapped int
	// GaveUp counts requests whose client went away before the answer.
	GaveUp int
	// HealthChecks counts requests to the health endpoint, HealthFailures
	// those that were not answered 200 (outage or flapping).
	HealthChecks, HealthFailures int
	// Connections counts connections accepted; PeakConnections is the
	// most that were open at once.
	Connections, PeakConnections int
	// PeakInFlight is the most API requests that were in progress at once.
	PeakInFlight int
}

type connKey struct{}

// NewPartner starts a partner scripted by cfg. It returns an error naming
// the field when cfg is invalid. Close it when done.
func NewPartner(cfg PartnerConfig) (*Partner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Partner{
		cfg:       cfg,
		started:   time.Now(),
		closing:   make(chan struct{}),
		flapEvery: cfg.FlapEvery,
		held:      make(map[string]bool),
		processed: make(map[string]int),
		signed:    make(map[string]bool),
	}
	p.rules = make([]ruleState, len(cfg.Rules))
	for i := range cfg.Rules {
		p.rules[i].rule = &p.cfg.Rules[i]
	}
	if cfg.Outage.AfterRequests == 0 {
		p.afterAt = p.started
	}
	hs := &http.Server{
		Handler:     http.HandlerFunc(p.serve),
		ConnState:   p.connState,
		ConnContext: p.connContext,
	}
	if cfg.InMemory {
		p.mem = newMemListener()
		p.srv = &httptest.Server{Listener: p.mem, Config: hs}
	} else {
		p.srv = httptest.NewUnstartedServer(nil)
		p.srv.Config = hs
	}
	p.srv.Start()
	p.URL = p.srv.URL
	p.client, err = p.NewClient(httpclient.Config{})
	if err != nil { // only a bug in this package can get here
		p.Close()
		return nil, err
	}
	return p, nil
}

// StartPartner starts a partner for a test: it fails tb if cfg is invalid
// and closes the partner when the test ends.
func StartPartner(tb testing.TB, cfg PartnerConfig) *Partner {
	tb.Helper()
	p, err := NewPartner(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Close stops the partner: requests that hang or wait are dropped, the
// server shuts down once every handler has returned, and the idle
// connections of the clients made by Client and NewClient are closed. It is
// safe to call more than once.
func (p *Partner) Close() {
	p.once.Do(func() {
		close(p.closing)
		p.srv.Close()
		p.mu.Lock()
		ts := p.transports
		p.mu.Unlock()
		for _, t := range ts {
			t.CloseIdleConnections()
		}
	})
}

// Client returns an HTTP client that reaches the partner, built by
// NewClient with the default httpclient.Config.
func (p *Partner) Client() *http.Client { return p.client }

// NewClient returns a client built like httpclient.New(cfg) (bounded
// connections, keep-alive, timeouts) whose connections all go to this
// partner, over TCP or in memory; cfg.Proxy is ignored. It returns an error
// if cfg is invalid or asks for BlockPrivateAddresses, whose guard would
// refuse a partner on loopback.
func (p *Partner) NewClient(cfg httpclient.Config) (*http.Client, error) {
	if cfg.BlockPrivateAddresses {
		return nil, errors.New("deliverytest: httpclient.Config.BlockPrivateAddresses would refuse the partner, which listens on loopback or in memory")
	}
	c, err := httpclient.New(cfg)
	if err != nil {
		return nil, err
	}
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return nil, errors.New("deliverytest: httpclient.New did not return an *http.Transport")
	}
	t.DialContext = p.DialContext
	t.Proxy = nil
	p.mu.Lock()
	p.transports = append(p.transports, t)
	p.mu.Unlock()
	return c, nil
}

// DialContext connects to the partner whatever network and address it is
// given: set it as the DialContext of your own http.Transport to reach an
// in-memory partner. After Close it fails like a refused connection.
func (p *Partner) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	if p.mem != nil {
		return p.mem.dial(ctx)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", p.srv.Listener.Addr().String())
}

// HealthURL returns the URL of the health endpoint.
func (p *Partner) HealthURL() string { return p.URL + p.cfg.HealthPath }

// TokenURL returns the URL of the Issuer's token endpoint (served only when
// PartnerConfig.Issuer is set).
func (p *Partner) TokenURL() string { return p.URL + p.cfg.TokenPath }

// SetDown starts (true) or ends (false) an outage by hand: while down,
// every API request gets the outage answer and the health endpoint fails.
// It overrides nothing else: a scheduled Outage still applies while not
// down by hand.
func (p *Partner) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.manualDown = down
}

// Down reports whether the partner is down now, by hand or by its
// scheduled Outage.
func (p *Partner) Down() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.downLocked(time.Now())
}

// SetFlapping makes every n-th API request and every n-th health check
// lose its connection mid-response, counted from now; 0 stops flapping.
// A negative n is treated as 0.
func (p *Partner) SetFlapping(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flapEvery = max(n, 0)
	p.flapAPI, p.flapHealth = 0, 0
}

// Requests returns a copy of every API request received so far, in arrival
// order.
func (p *Partner) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Request, len(p.reqs))
	for i, r := range p.reqs {
		out[i] = r.clone()
	}
	return out
}

// RequestsFor returns a copy of the API requests that carried the given
// Idempotency-Key, in arrival order.
func (p *Partner) RequestsFor(key string) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Request
	for _, r := range p.reqs {
		if r.IdempotencyKey == key {
			out = append(out, r.clone())
		}
	}
	return out
}

// Stats returns a snapshot of the partner's counters.
func (p *Partner) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Delivered returns how many distinct records, by Idempotency-Key, the
// partner holds: processed, or answered as already held. It is the
// effective exactly-once count however many resends there were.
func (p *Partner) Delivered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heldOrder)
}

// DeliveredKeys returns the Idempotency-Keys the partner holds, in the
// order it first held them.
func (p *Partner) DeliveredKeys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.heldOrder...)
}

// Holds reports whether the partner holds the record with this
// Idempotency-Key.
func (p *Partner) Holds(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[key]
}

// Processed returns how many times the partner did the work for the record
// with this Idempotency-Key. More than 1 means a resend was processed again.
func (p *Partner) Processed(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.processed[key]
}

// Reprocessed returns the Idempotency-Keys processed more than once, in no
// particular order.
func (p *Partner) Reprocessed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k, n := range p.processed {
		if n > 1 {
			out = append(out, k)
		}
	}
	return out
}

// PeakConnections returns the most connections that were open to the
// partner at once.
func (p *Partner) PeakConnections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats.PeakConnections
}

// PeakInFlight returns the most API requests that were in progress at
// once.
func (p *Partner) PeakInFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats.PeakInFlight
}

// downLocked reports whether the partner is down at now. p.mu is held.
func (p *Partner) downLocked(now time.Time) bool {
	if p.manualDown {
		return true
	}
	o := p.cfg.Outage
	if o.For <= 0 || p.afterAt.IsZero() {
		return false
	}
	start := p.started.Add(o.At)
	if p.afterAt.After(start) {
		start = p.afterAt
	}
	return !now.Before(start) && now.Before(start.Add(o.For))
}

// flapLocked counts one request on counter and reports whether flapping
// cuts it. p.mu is held.
func (p *Partner) flapLocked(counter *int) bool {
	if p.flapEvery <= 0 {
		return false
	}
	*counter++
	return *counter%p.flapEvery == 0
}

func (p *Partner) connContext(ctx context.Context, _ net.Conn) context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Connections++
	return context.WithValue(ctx, connKey{}, p.stats.Connections)
}

func (p *Partner) connState(_ net.Conn, s http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch s {
	case http.StateNew:
		p.open++
		p.stats.PeakConnections = max(p.stats.PeakConnections, p.open)
	case http.StateHijacked, http.StateClosed:
		p.open--
	}
}
