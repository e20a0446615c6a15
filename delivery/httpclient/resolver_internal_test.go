package httpclient

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// scriptedUpstream stands in for the DNS servers inside a synctest
// bubble: it answers from its mode and counts the questions per type.
type scriptedUpstream struct {
	mu    sync.Mutex
	mode  string // "answer", "nxdomain", "servfail", "timeout"
	ttl   time.Duration
	addrs []netip.Addr
	asked map[dnsmessage.Type]int
}

func (u *scriptedUpstream) set(mode string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.mode = mode
}

func (u *scriptedUpstream) count(t dnsmessage.Type) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.asked[t]
}

func (u *scriptedUpstream) exchange(ctx context.Context, _ string, _ dnsmessage.Name, qtype dnsmessage.Type) (answer, error) {
	u.mu.Lock()
	if u.asked == nil {
		u.asked = map[dnsmessage.Type]int{}
	}
	u.asked[qtype]++
	mode, ttl, addrs := u.mode, u.ttl, u.addrs
	u.mu.Unlock()
	switch mode {
	case "nxdomain":
		return answer{rcode: dnsmessage.RCodeNameError}, nil
	case "servfail":
		return answer{rcode: dnsmessage.RCodeServerFailure}, nil
	case "timeout":
		<-ctx.Done()
		return answer{}, ctx.Err()
	}
	a := answer{ttl: ttl, rcode: dnsmessage.RCodeSuccess}
	for _, addr := range addrs {
		if addr.Is4() == (qtype == dnsmessage.TypeA) {
			a.addrs = append(a.addrs, addr)
		}
	}
	return a, nil
}

func scriptedResolver(t *testing.T, cfg ResolverConfig, u *scriptedUpstream) *CachingResolver {
	t.Helper()
	cfg.Servers = []string{"192.0.2.53:53"}
	r, err := NewCachingResolver(cfg)
	require.NoError(t, err)
	r.exchange = u.exchange
	return r
}

var partnerAddrs = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}

func TestResolverServesStaleWhileUpstreamFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &scriptedUpstream{mode: "answer", ttl: 3 * time.Second, addrs: partnerAddrs}
		const (
			maxStale = time.Minute
			refresh  = 5 * time.Second
		)
		r := scriptedResolver(t, ResolverConfig{MinTTL: time.Second, MaxTTL: 10 * time.Second, MaxStale: maxStale,
			RefreshInterval: refresh, Timeout: time.Second}, u)
		defer r.Close()
		lookup := func() ([]netip.Addr, error) { return r.LookupNetIP(t.Context(), "partner.test") }

		addrs, err := lookup()
		require.NoError(t, err)
		assert.Equal(t, partnerAddrs, addrs)
		resolved := time.Now()
		time.Sleep(2 * time.Second)
		_, err = lookup()
		require.NoError(t, err)
		assert.Equal(t, 1, u.count(dnsmessage.TypeA), "fresh for the TTL: not asked again")

		// Upstream turns on us: NXDOMAIN, SERVFAIL and silence in turn.
		// Every lookup is answered from the stale answer at once, and
		// upstream is asked in the background at most once per refresh
		// interval.
		modes := []string{"nxdomain", "servfail", "timeout"}
		began := time.Now()
		for i := 0; time.Since(resolved) < 3*time.Second+maxStale-time.Second; i++ {
			u.set(modes[(i/50)%len(modes)])
			before := time.Now()
			addrs, err := lookup()
			require.NoError(t, err)
			assert.Equal(t, partnerAddrs, addrs)
			assert.Equal(t, before, time.Now(), "served without waiting for upstream")
			time.Sleep(100 * time.Millisecond)
		}
		synctest.Wait()
		asked := u.count(dnsmessage.TypeA) - 1
		assert.LessOrEqual(t, asked, int(time.Since(began)/refresh)+1)
		assert.GreaterOrEqual(t, asked, int(time.Since(began)/(refresh+2*time.Second)), "it does keep trying")

		// Past MaxStale the failure surfaces, naming what upstream did.
		u.set("servfail")
		time.Sleep(time.Until(resolved.Add(3*time.Second + maxStale + time.Millisecond)))
		_, err = lookup()
		var dnsErr *net.DNSError
		require.ErrorAs(t, err, &dnsErr)
		assert.Equal(t, "lookup partner.test on 192.0.2.53:53: server answered SERVFAIL; the last answer expired 1m0s ago, past the 1m0s it may be served stale", err.Error())
		assert.True(t, dnsErr.IsTemporary)
		n := u.count(dnsmessage.TypeA)
		_, err = lookup()
		assert.Error(t, err)
		assert.Equal(t, n, u.count(dnsmessage.TypeA), "the failure is remembered for the refresh interval")

		u.set("answer")
		time.Sleep(refresh)
		addrs, err = lookup()
		require.NoError(t, err)
		assert.Equal(t, partnerAddrs, addrs)
	})
}

func TestResolverBoundsTTL(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ttl, want time.Duration
	}{
		{"raised to MinTTL", 0, 5 * time.Second},
		{"kept", 30 * time.Second, 30 * time.Second},
		{"cut to MaxTTL", time.Hour, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				u := &scriptedUpstream{mode: "answer", ttl: tc.ttl, addrs: partnerAddrs}
				r := scriptedResolver(t, ResolverConfig{MinTTL: 5 * time.Second, MaxTTL: time.Minute}, u)
				defer r.Close()
				start := time.Now()
				for u.count(dnsmessage.TypeA) < 2 {
					_, err := r.LookupNetIP(t.Context(), "partner.test")
					require.NoError(t, err)
					synctest.Wait()
					time.Sleep(100 * time.Millisecond)
				}
				// The refresh happened on the first lookup after expiry.
				assert.InDelta(t, tc.want.Seconds(), time.Since(start).Seconds(), 0.2)
			})
		})
	}
}

func TestResolverCachesNegativeAnswersBriefly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &scriptedUpstream{mode: "nxdomain"}
		r := scriptedResolver(t, ResolverConfig{NegativeTTL: 2 * time.Second, RefreshInterval: 10 * time.Second}, u)
		defer r.Close()
		lookup := func() error { _, err := r.LookupNetIP(t.Context(), "never.test"); return err }

		err := lookup()
		var dnsErr *net.DNSError
		require.ErrorAs(t, err, &dnsErr)
		assert.True(t, dnsErr.IsNotFound)
		assert.Equal(t, "lookup never.test on 192.0.2.53:53: no such host (NXDOMAIN)", err.Error())
		assert.Error(t, lookup())
		assert.Equal(t, 1, u.count(dnsmessage.TypeA), "cached")
		time.Sleep(2 * time.Second)
		assert.Error(t, lookup())
		assert.Equal(t, 2, u.count(dnsmessage.TypeA), "asked again after NegativeTTL")

		// A failing upstream for a name never resolved: remembered for the
		// refresh interval.
		u.set("servfail")
		time.Sleep(2 * time.Second)
		assert.ErrorContains(t, lookup(), "server answered SERVFAIL")
		time.Sleep(5 * time.Second)
		assert.Error(t, lookup())
		assert.Equal(t, 3, u.count(dnsmessage.TypeA))
		time.Sleep(5 * time.Second)
		assert.Error(t, lookup())
		assert.Equal(t, 4, u.count(dnsmessage.TypeA))
	})
}

func TestResolverTimeoutNamesTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &scriptedUpstream{mode: "timeout"}
		r := scriptedResolver(t, ResolverConfig{Timeout: 2 * time.Second}, u)
		defer r.Close()
		start := time.Now()
		_, err := r.LookupNetIP(t.Context(), "slow.test")
		assert.Equal(t, 2*time.Second, time.Since(start), "A and AAAA are asked at once")
		var dnsErr *net.DNSError
		require.ErrorAs(t, err, &dnsErr)
		assert.True(t, dnsErr.IsTimeout)
		assert.Equal(t, "lookup slow.test on 192.0.2.53:53: no answer within 2s: i/o timeout", err.Error())
	})
}

func TestResolverLookupHonoursContextAndCloseStopsQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &scriptedUpstream{mode: "timeout"}
		r := scriptedResolver(t, ResolverConfig{Timeout: time.Hour}, u)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := r.LookupNetIP(ctx, "slow.test")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		// The query goes on in the background; Close ends it and waits.
		start := time.Now()
		require.NoError(t, r.Close())
		assert.Zero(t, time.Since(start))
		_, err = r.LookupNetIP(t.Context(), "slow.test")
		assert.True(t, errors.Is(err, errResolverClosed))
	})
}

func TestResolverBoundsNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := &scriptedUpstream{mode: "answer", ttl: time.Minute, addrs: partnerAddrs}
		r := scriptedResolver(t, ResolverConfig{MaxNames: 2}, u)
		defer r.Close()
		for _, name := range []string{"a.test", "b.test", "c.test", "d.test"} {
			_, err := r.LookupNetIP(t.Context(), name)
			require.NoError(t, err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		assert.LessOrEqual(t, len(r.names), 2)
	})
}
