package httpclient_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// fakeUpstream is a UDP DNS server on loopback written with dnsmessage:
// it answers A queries for the names it knows with TTL 60 and NXDOMAIN
// otherwise, and counts queries.
type fakeUpstream struct {
	addr  string
	mu    sync.Mutex
	names map[string][]netip.Addr
	asked map[string]int
}

func startFakeUpstream(t *testing.T, names map[string][]netip.Addr) *fakeUpstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	u := &fakeUpstream{addr: pc.LocalAddr().String(), names: names, asked: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := u.answer(buf[:n]); reply != nil {
				_, _ = pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); <-done })
	return u
}

func (u *fakeUpstream) answer(query []byte) []byte {
	var msg dnsmessage.Message
	if err := msg.Unpack(query); err != nil || len(msg.Questions) != 1 {
		return nil
	}
	q := msg.Questions[0]
	u.mu.Lock()
	u.asked[q.Name.String()+" "+q.Type.String()]++
	addrs, known := u.names[q.Name.String()]
	u.mu.Unlock()
	msg.Header.Response = true
	if !known {
		msg.Header.RCode = dnsmessage.RCodeNameError
	}
	for _, a := range addrs {
		h := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			msg.Answers = append(msg.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			msg.Answers = append(msg.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
		}
	}
	out, err := msg.Pack()
	if err != nil {
		return nil
	}
	return out
}

func (u *fakeUpstream) queries(name, qtype string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.asked[name+" "+qtype]
}

func newResolver(t *testing.T, cfg httpclient.ResolverConfig) *httpclient.CachingResolver {
	t.Helper()
	r, err := httpclient.NewCachingResolver(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestCachingResolverCachesAndShares(t *testing.T) {
	up := startFakeUpstream(t, map[string][]netip.Addr{
		"partner.test.": {netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1")},
	})
	r := newResolver(t, httpclient.ResolverConfig{Servers: []string{up.addr}})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			addrs, err := r.LookupNetIP(context.Background(), "Partner.Test.")
			assert.NoError(t, err)
			assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1")}, addrs, "IPv6 first")
		})
	}
	wg.Wait()
	assert.Equal(t, 1, up.queries("partner.test.", "TypeA"), "one query for twenty concurrent lookups, then the cache")
	assert.Equal(t, 1, up.queries("partner.test.", "TypeAAAA"))

	addrs, err := r.LookupNetIP(context.Background(), "192.0.2.7")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.7")}, addrs, "IP literals are not looked up")

	_, err = r.LookupNetIP(context.Background(), "unknown.test")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound)
	assert.Equal(t, "lookup unknown.test on "+up.addr+": no such host (NXDOMAIN)", err.Error())
	assert.Equal(t, classify.ClassEphemeral, classify.Of(err))

	require.NoError(t, r.Close())
	_, err = r.LookupNetIP(context.Background(), "partner.test")
	assert.ErrorContains(t, err, "httpclient: caching resolver is closed")
}

func TestCachingResolverKeepsTLSServerNameAndDialGuard(t *testing.T) {
	var sni sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName, true)
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// httptest's certificate is for example.com (and 127.0.0.1).
	up := startFakeUpstream(t, map[string][]netip.Addr{"example.com.": {netip.MustParseAddr("127.0.0.1")}})
	r := newResolver(t, httpclient.ResolverConfig{Servers: []string{up.addr}})
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()

	client, err := httpclient.New(httpclient.Config{Resolver: r, TLSConfig: roots})
	require.NoError(t, err)
	d := guardedDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("https://example.com:"+port+"/", "text/plain")})
	require.NoError(t, d.Deliver(context.Background(), guardMsg("m")))
	_, ok := sni.Load("example.com")
	assert.True(t, ok, "the TLS server name is the host name, not the dialled address")

	// The dial guard judges the resolved address.
	guarded, err := httpclient.New(httpclient.Config{Resolver: r, TLSConfig: roots, BlockPrivateAddresses: true})
	require.NoError(t, err)
	d = guardedDeliverer(t, httpdelivery.Config{Client: guarded, Build: httpdelivery.PostTo("https://example.com:"+port+"/", "text/plain")})
	var blocked *httpclient.BlockedAddressError
	require.ErrorAs(t, d.Deliver(context.Background(), guardMsg("m")), &blocked)
	assert.Equal(t, "loopback", blocked.Reason)
}

func TestCachingResolverHappyEyeballsFallsBack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	// The IPv6 address comes first and never answers (a documentation
	// address, routed nowhere); IPv4 loopback takes over.
	up := startFakeUpstream(t, map[string][]netip.Addr{
		"dual.test.": {netip.MustParseAddr("2001:db8::dead"), netip.MustParseAddr("127.0.0.1")},
	})
	r := newResolver(t, httpclient.ResolverConfig{Servers: []string{up.addr}})
	tr, err := httpclient.NewTransport(httpclient.Config{Resolver: r, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	conn, err := tr.DialContext(context.Background(), "tcp", "dual.test:"+port)
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "127.0.0.1:"+port, conn.RemoteAddr().String())
}

func TestResolverConfigErrors(t *testing.T) {
	_, err := httpclient.NewCachingResolver(httpclient.ResolverConfig{
		Servers: []string{"no-port"}, MinTTL: time.Minute, MaxTTL: time.Second, MaxStale: -1, MaxNames: -1,
	})
	require.Error(t, err)
	for _, want := range []string{"Servers[0]", "MaxTTL (1s) is below MinTTL (1m0s)", "MaxStale", "MaxNames"} {
		assert.ErrorContains(t, err, want)
	}
}

func TestResolverReadsResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte("# comment\nsearch example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver bogus\n"), 0o600))
	servers, err := httpclient.SystemNameservers(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"192.0.2.53:53", "[fe80::1]:53"}, servers)

	require.NoError(t, os.WriteFile(path, []byte("search example\n"), 0o600))
	_, err = httpclient.SystemNameservers(path)
	assert.ErrorContains(t, err, "names no nameserver")
}
