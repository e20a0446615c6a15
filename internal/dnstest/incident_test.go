package dnstest_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failover"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// flappingPartner is an HTTP partner on a fixed loopback port whose
// listener the test closes (connections refused) and opens again.
type flappingPartner struct {
	srv  *http.Server
	addr string
	hits atomicCounter

	mu sync.Mutex
	ln net.Listener
}

func startFlappingPartner(t *testing.T) *flappingPartner {
	t.Helper()
	p := &flappingPartner{}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { p.hits.add() }),
		ReadHeaderTimeout: 5 * time.Second}
	p.srv.SetKeepAlivesEnabled(false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(func() { _ = p.srv.Close() })
	return p
}

func (p *flappingPartner) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() { _ = p.srv.Serve(ln) }()
}

// setUp opens (true) or closes (false) the partner's listener.
func (p *flappingPartner) setUp(t *testing.T, up bool) {
	p.mu.Lock()
	ln := p.ln
	p.mu.Unlock()
	if !up {
		if ln != nil {
			_ = ln.Close()
			p.mu.Lock()
			p.ln = nil
			p.mu.Unlock()
		}
		return
	}
	if ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if !assert.NoError(t, err, "reopening the partner's port") {
		return
	}
	p.serve(ln)
}

// TestIncidentNXDOMAINBurstsAndAFlappingPrimaryLoseNothing replays the
// incident end to end: records enqueued into a store and drained by a
// Dispatcher through a failover set whose primary flaps every 200ms
// while the resolver answers NXDOMAIN in bursts for both partners' names;
// the secondary is healthy. Every record is delivered, none is dead-
// lettered, and the set switches at most 2*floor(T/hold)+1 times.
func TestIncidentNXDOMAINBurstsAndAFlappingPrimaryLoseNothing(t *testing.T) {
	const (
		records = 300
		flapFor = 3 * time.Second
		flap    = 200 * time.Millisecond
		burst   = 300 * time.Millisecond
		hold    = time.Second
	)
	primary := startFlappingPartner(t)
	secondary := startFlappingPartner(t)
	_, primaryPort, _ := net.SplitHostPort(primary.addr)
	_, secondaryPort, _ := net.SplitHostPort(secondary.addr)
	up := startUpstream(t, map[string][]netip.Addr{
		"primary.test.":   loopbacks(40),
		"secondary.test.": loopbacks(40),
	})
	resolver, err := httpclient.NewCachingResolver(httpclient.ResolverConfig{
		Servers: []string{up.Addr}, MinTTL: 100 * time.Millisecond, MaxTTL: 200 * time.Millisecond,
		MaxStale: time.Minute, RefreshInterval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	defer resolver.Close()
	client, err := httpclient.New(httpclient.Config{Resolver: resolver, Timeout: 5 * time.Second})
	require.NoError(t, err)
	channel := func(host, port string) delivery.Deliverer {
		d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("http://"+host+":"+port+"/", "application/json")})
		require.NoError(t, err)
		return d
	}
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "primary", ConsecutiveFailures: 1, OpenTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	var log switchLog
	set, err := failover.New(failover.Config{
		Name: "partner",
		Channels: []failover.Channel{
			{Name: "primary", Deliverer: channel("primary.test", primaryPort), Breaker: breaker},
			{Name: "secondary", Deliverer: channel("secondary.test", secondaryPort)},
		},
		ReturnHold: hold, ReturnChecks: 3, CheckInterval: 50 * time.Millisecond,
		OnSwitch: log.add,
	})
	require.NoError(t, err)

	store := memstore.New(memstore.Config{})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: set, Concurrency: 4, PollInterval: 20 * time.Millisecond,
		Policy: retry.Policy{Backoff: retry.Constant(50 * time.Millisecond), MaxAttempts: 50},
	})
	require.NoError(t, err)

	// Both names resolve once while upstream is sane.
	for _, id := range []string{"warm-1", "warm-2"} {
		require.NoError(t, set.Deliver(context.Background(), &delivery.Message{ID: id, Payload: []byte(`{}`)}))
	}
	_, err = resolver.LookupNetIP(context.Background(), "secondary.test")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(3)
	go func() { defer wg.Done(); _ = d.Run(ctx) }()
	start := time.Now()
	go func() { // the flapping primary
		defer wg.Done()
		defer primary.setUp(t, true)
		for i := 0; time.Since(start) < flapFor; i++ {
			primary.setUp(t, i%2 == 1)
			select {
			case <-ctx.Done():
				return
			case <-time.After(flap):
			}
		}
	}()
	go func() { // NXDOMAIN bursts
		defer wg.Done()
		defer up.Set(answer)
		for i := 0; time.Since(start) < flapFor; i++ {
			up.Set([]string{nxdomain, answer}[i%2])
			select {
			case <-ctx.Done():
				return
			case <-time.After(burst):
			}
		}
	}()
	for i := range records {
		_, err := store.Enqueue(ctx, delivery.Message{ID: fmt.Sprintf("rec-%03d", i), Payload: []byte(`{}`)})
		require.NoError(t, err)
		time.Sleep(flapFor / records)
	}
	require.Eventually(t, func() bool {
		st, err := store.Stats(ctx)
		return err == nil && st.Count(delivery.StateDelivered) == records
	}, 30*time.Second, 20*time.Millisecond)
	cancel()
	wg.Wait()

	st, err := store.Stats(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, records, st.Count(delivery.StateDelivered))
	assert.Zero(t, st.Count(delivery.StateDead), "nothing dead-lettered")
	assert.Zero(t, st.Count(delivery.StateDiscarded))
	assert.Zero(t, st.Count(delivery.StatePending)+st.Count(delivery.StateInFlight), "nothing left behind")
	assert.GreaterOrEqual(t, primary.hits.get()+secondary.hits.get(), records+2)
	assert.Positive(t, secondary.hits.get(), "the secondary carried traffic")

	switches := log.all()
	var during int
	for _, s := range switches {
		if s.At.Sub(start) < flapFor {
			during++
		}
	}
	bound := 2*int(flapFor/hold) + 1
	t.Logf("%d switches while the primary flapped (bound %d); primary %d, secondary %d requests; %d A queries for primary.test",
		during, bound, primary.hits.get(), secondary.hits.get(), up.Queries("primary.test", "A", "udp"))
	assert.LessOrEqual(t, during, bound)
	assert.LessOrEqual(t, up.Queries("primary.test", "A", "udp"), int(time.Since(start)/(100*time.Millisecond))+2,
		"at most one query per refresh interval")
}

// switchLog collects failover switches.
type switchLog struct {
	mu     sync.Mutex
	events []failover.Switch
}

func (l *switchLog) add(s failover.Switch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, s)
}

func (l *switchLog) all() []failover.Switch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]failover.Switch(nil), l.events...)
}
