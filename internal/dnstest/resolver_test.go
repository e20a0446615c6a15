package dnstest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// partnerOnLoopback starts the partner on 127.0.0.1 without keep-alive,
// so every delivery dials, and so resolves, again.
func partnerOnLoopback(t *testing.T) (port string, hits func() int) {
	t.Helper()
	var n atomicCounter
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { n.add() }))
	srv.Config.SetKeepAlivesEnabled(false)
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return port, n.get
}

// TestStaleAnswersCarryDeliveriesThroughAResolverThatLies replays the
// resolver half of the incident: a name whose A record holds 40
// addresses (truncated over UDP, so the resolver retries over TCP), then
// NXDOMAIN, SERVFAIL and silence from upstream, then recovery.
func TestStaleAnswersCarryDeliveriesThroughAResolverThatLies(t *testing.T) {
	const (
		name     = "partner.test"
		ttl      = 300 * time.Millisecond // MaxTTL: the records say 1s
		maxStale = 3 * time.Second
		refresh  = 250 * time.Millisecond
		phase    = 700 * time.Millisecond
	)
	up := startUpstream(t, map[string][]netip.Addr{name + ".": loopbacks(40)})
	resolver, err := httpclient.NewCachingResolver(httpclient.ResolverConfig{
		Servers: []string{up.Addr}, MinTTL: 100 * time.Millisecond, MaxTTL: ttl,
		MaxStale: maxStale, RefreshInterval: refresh, Timeout: 200 * time.Millisecond,
	})
	require.NoError(t, err)
	defer resolver.Close()
	client, err := httpclient.New(httpclient.Config{Resolver: resolver, Timeout: 5 * time.Second})
	require.NoError(t, err)
	port, hits := partnerOnLoopback(t)
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("http://"+name+":"+port+"/", "application/json")})
	require.NoError(t, err)
	deliver := func(id string) error {
		return send.Deliver(context.Background(), &delivery.Message{ID: id, Payload: []byte(`{}`)})
	}

	// The first answer: 40 addresses, over TCP after a truncated UDP answer.
	before := time.Now()
	require.NoError(t, deliver("first"))
	resolvedBy := time.Now()
	assert.Equal(t, 1, up.Queries(name, "A", "udp"))
	assert.Equal(t, 1, up.Queries(name, "A", "tcp"), "the truncated answer was asked again over TCP")
	// The stale limit lies between these two instants.
	staleLimitAfter := before.Add(ttl + maxStale)
	staleLimitBy := resolvedBy.Add(ttl + maxStale)

	// Upstream lies, fails and falls silent in turn; deliveries succeed
	// on the stale answer, and upstream is asked at most once per refresh
	// interval.
	var delivered int
	for _, mode := range []string{nxdomain, servfail, silent} {
		up.Set(mode)
		began := time.Now()
		asked := up.Queries(name, "A", "udp")
		for i := 0; time.Since(began) < phase; i++ {
			err := deliver(fmt.Sprintf("%s-%d", mode, i))
			if time.Now().Before(staleLimitAfter) {
				require.NoError(t, err, "%s: the stale answer is younger than the limit", mode)
				delivered++
			}
			time.Sleep(10 * time.Millisecond)
		}
		queries := up.Queries(name, "A", "udp") - asked
		assert.LessOrEqual(t, queries, int(time.Since(began)/refresh)+1, "%s: at most one query per refresh interval", mode)
		t.Logf("%s: %d upstream queries in %v", mode, queries, time.Since(began).Round(time.Millisecond))
	}
	assert.Positive(t, delivered)
	assert.Equal(t, delivered+1, hits())

	// Past the stale limit, deliveries fail Ephemeral naming the failure.
	waitUntil(staleLimitBy.Add(10 * time.Millisecond))
	err = deliver("too-late")
	require.Error(t, err)
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
	assert.Equal(t, "dns", classify.Cause(err))
	assert.ErrorContains(t, err, "lookup "+name+" on "+up.Addr)
	assert.ErrorContains(t, err, "no answer within 200ms")
	assert.ErrorContains(t, err, "past the 3s it may be served stale")
	var dnsErr *net.DNSError
	require.True(t, errors.As(err, &dnsErr))
	assert.True(t, dnsErr.IsTimeout)

	// A name never resolved fails at once, clearly, and the failure is
	// cached rather than asked again per request.
	up.Set(nxdomain)
	sendOther, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("http://never.test:"+port+"/", "application/json")})
	require.NoError(t, err)
	for range 3 {
		err = sendOther.Deliver(context.Background(), &delivery.Message{ID: "n", Payload: []byte(`{}`)})
		require.Error(t, err)
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		assert.ErrorContains(t, err, "lookup never.test on "+up.Addr+": no such host (NXDOMAIN)")
	}
	assert.Equal(t, 1, up.Queries("never.test", "A", "udp"), "negative answers are cached")

	// Upstream recovers: deliveries succeed again within a refresh interval.
	up.Set(answer)
	recovered := time.Now()
	require.Eventually(t, func() bool { return deliver("again") == nil }, 5*time.Second, 20*time.Millisecond)
	t.Logf("delivering again %v after upstream recovered", time.Since(recovered).Round(time.Millisecond))
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *atomicCounter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
