package httpclient

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResolvingDialerFallsBackAfterTheDelay: the IPv6 address comes first
// and hangs; the IPv4 attempt starts after the fallback delay, wins, and
// the hanging attempt is cancelled. The dial guard's hook (the dialer's
// Control) sees both addresses.
func TestResolvingDialerFallsBackAfterTheDelay(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	u := &scriptedUpstream{mode: "answer", ttl: time.Minute,
		addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("2001:db8::1")}}
	r := scriptedResolver(t, ResolverConfig{}, u)
	defer r.Close()

	var (
		mu        sync.Mutex
		started   = map[string]time.Time{}
		cancelled = make(chan struct{})
	)
	const delay = 200 * time.Millisecond
	dialer := &net.Dialer{FallbackDelay: delay, ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
		mu.Lock()
		started[address] = time.Now()
		mu.Unlock()
		if address == "[2001:db8::1]:"+port {
			<-ctx.Done() // an IPv6 path that never answers
			close(cancelled)
			return ctx.Err()
		}
		return nil
	}}
	d := &resolvingDialer{dialer: dialer, resolver: r}
	conn, err := d.DialContext(context.Background(), "tcp", "partner.test:"+port)
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, "127.0.0.1:"+port, conn.RemoteAddr().String())
	<-cancelled
	mu.Lock()
	defer mu.Unlock()
	v6, v4 := started["[2001:db8::1]:"+port], started["127.0.0.1:"+port]
	require.False(t, v6.IsZero() || v4.IsZero(), "both families tried: %v", started)
	assert.GreaterOrEqual(t, v4.Sub(v6), delay, "IPv4 only after the fallback delay")
}

func TestSplitFamilies(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("::ffff:192.0.2.2")}
	p, f := splitFamilies("tcp", addrs)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")}, p)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}, f, "mapped addresses are IPv4")
	p, f = splitFamilies("tcp4", addrs)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}, p)
	assert.Empty(t, f)
	p, f = splitFamilies("tcp6", addrs[:2])
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::1")}, p)
	assert.Empty(t, f)
}
