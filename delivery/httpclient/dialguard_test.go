package httpclient_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

func TestBlockedReason(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1":        "loopback",
		"127.10.0.1":       "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"10.0.0.1":         "private",
		"172.16.5.4":       "private",
		"192.168.1.1":      "private",
		"fd00::1":          "private",
		"169.254.169.254":  "link-local",
		"fe80::1":          "link-local",
		"0.0.0.0":          "unspecified",
		"0.1.2.3":          "unspecified",
		"::":               "unspecified",
		"224.0.0.1":        "multicast",
		"ff02::1":          "multicast",
		"100.64.0.1":       "shared",
		"192.0.0.1":        "reserved",
		"192.0.0.255":      "reserved",
		"198.18.0.1":       "reserved",
		"198.19.255.255":   "reserved",
		"240.0.0.1":        "reserved",
		"255.255.255.255":  "reserved",
		"8.8.8.8":          "",
		"2606:4700::1111":  "",
		"172.32.0.1":       "",
		"192.0.1.1":        "",
		"198.20.0.1":       "",
		"223.255.255.255":  "",
		// NAT64 and 6to4 addresses are judged by the IPv4 address inside.
		"64:ff9b::7f00:1":             "loopback",
		"64:ff9b::127.0.0.1":          "loopback",
		"64:ff9b::a9fe:a9fe":          "link-local", // 169.254.169.254, cloud metadata
		"64:ff9b::10.1.2.3":           "private",
		"64:ff9b::8.8.8.8":            "",
		"64:ff9b:1::10.0.0.1":         "private",     // local-use prefix as a /96
		"64:ff9b:1:a00:1:100:808:808": "private",     // as a /48: 10.0.1.1 around the u-octet
		"64:ff9b:1:808:8:800:808:808": "",            // 8.8.8.8 read either way
		"64:ff9b:1:808:8:800::":       "unspecified", // a /48 reading of 8.8.8.8, but 0.0.0.0 as a /96: either reading refused is refused
		"64:ff9b:1:808:8:800:7f00:1":  "loopback",    // 127.0.0.1 in the /96 reading
		"2002:7f00:1::1":              "loopback",    // 6to4 of 127.0.0.1
		"2002:a9fe:a9fe::":            "link-local",
		"2002:c0a8:101::1":            "private",  // 192.168.1.1
		"2002:808:808::1":             "",         // 8.8.8.8
		"64:ff9c::7f00:1":             "reserved", // outside the NAT64 prefix, so not read as 127.0.0.1, and outside global unicast
	}
	for in, want := range cases {
		assert.Equal(t, want, httpclient.BlockedReason(netip.MustParseAddr(in)), in)
	}
}

// TestBlockedReasonSpecialPurposeRanges covers the special-purpose ranges of
// the IANA registries that a hand-kept list missed (site-local, discard-only,
// Teredo, benchmarking, documentation, ORCHID, …), and global addresses
// next to them that stay allowed.
func TestBlockedReasonSpecialPurposeRanges(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"fec0::1", "reserved"},                  // site-local, deprecated but routed by some networks
		{"feff::1", "reserved"},                  // the rest of fe80::/9's neighbourhood
		{"100::1", "reserved"},                   // discard-only
		{"100::ffff:ffff:ffff:ffff", "reserved"}, // last of 100::/64
		{"2001::1", "reserved"},                  // Teredo
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"},
		{"2001:2::1", "reserved"},         // benchmarking
		{"2001:db8::1", "reserved"},       // documentation
		{"2001:10::1", "reserved"},        // ORCHID
		{"3fff::1", "reserved"},           // documentation (RFC 9637)
		{"::ffff:198.18.0.1", "reserved"}, // mapped benchmarking address
		{"::127.0.0.1", "reserved"},       // IPv4-compatible, outside global unicast
		{"198.18.0.1", "reserved"},
		{"192.0.2.1", "reserved"},    // TEST-NET-1
		{"198.51.100.7", "reserved"}, // TEST-NET-2
		{"203.0.113.9", "reserved"},  // TEST-NET-3
		{"192.88.99.1", "reserved"},  // former 6to4 relay anycast
		{"64:ff9b::198.18.0.1", "reserved"},
		{"2002:c000:201::1", "reserved"}, // 6to4 of 192.0.2.1
		// Global unicast next to them stays allowed.
		{"2001:4860:4860::8888", ""},
		{"2a00:1450:4001::1", ""},
		{"2600::1", ""},
		{"1.1.1.1", ""},
		{"198.20.0.1", ""},
		{"64:ff9b::1.1.1.1", ""},
	} {
		assert.Equal(t, tc.want, httpclient.BlockedReason(netip.MustParseAddr(tc.addr)), tc.addr)
	}
}

func TestDialGuardRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	guarded, err := httpclient.New(httpclient.Config{BlockPrivateAddresses: true, DialTimeout: time.Second})
	require.NoError(t, err)
	for _, host := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]"} {
		t.Run(host, func(t *testing.T) {
			d := guardedDeliverer(t, httpdelivery.Config{Client: guarded, Build: httpdelivery.PostTo("http://"+host+":"+port+"/", "text/plain")})
			err := d.Deliver(context.Background(), guardMsg("m"))
			require.Error(t, err)
			assert.Equal(t, classify.ClassPermanent, classify.Of(err))
			var blocked *httpclient.BlockedAddressError
			require.True(t, errors.As(err, &blocked), "err: %v", err)
			assert.NotEmpty(t, blocked.Reason)
			assert.Contains(t, err.Error(), blocked.Reason+" address")
		})
	}
	// "localhost" resolves to loopback: the guard judges the resolved address.
	d := guardedDeliverer(t, httpdelivery.Config{Client: guarded, Build: httpdelivery.PostTo("http://localhost:"+port+"/", "text/plain")})
	var blocked *httpclient.BlockedAddressError
	assert.ErrorAs(t, d.Deliver(context.Background(), guardMsg("m")), &blocked)
}

func TestDialGuardRefusesReservedAndEmbeddedAddresses(t *testing.T) {
	tr, err := httpclient.NewTransport(httpclient.Config{BlockPrivateAddresses: true})
	require.NoError(t, err)
	// The guard runs before connect, so nothing is sent to these.
	for _, tc := range []struct{ addr, reason, embedded string }{
		{"198.18.0.1:80", "reserved", ""},
		{"240.0.0.1:80", "reserved", ""},
		{"192.0.0.8:80", "reserved", ""},
		{"[64:ff9b::7f00:1]:80", "loopback", "127.0.0.1"},
		{"[64:ff9b::a9fe:a9fe]:80", "link-local", "169.254.169.254"},
		{"[2002:a00:1::1]:80", "private", "10.0.0.1"},
	} {
		conn, err := tr.DialContext(context.Background(), "tcp", tc.addr)
		if conn != nil {
			_ = conn.Close()
		}
		var blocked *httpclient.BlockedAddressError
		require.ErrorAs(t, err, &blocked, tc.addr)
		assert.Equal(t, classify.ClassPermanent, classify.Of(err))
		assert.Equal(t, tc.reason, blocked.Reason, tc.addr)
		if tc.embedded == "" {
			assert.False(t, blocked.Embedded.IsValid())
		} else {
			assert.Equal(t, tc.embedded, blocked.Embedded.String())
			assert.Contains(t, err.Error(), tc.reason+" address "+tc.embedded)
		}
	}
}

func TestDialGuardCannotBeCombinedWithAProxy(t *testing.T) {
	proxy := func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.internal:3128") }
	_, err := httpclient.New(httpclient.Config{BlockPrivateAddresses: true, Proxy: proxy})
	assert.ErrorContains(t, err, "Config.Proxy")
	assert.ErrorContains(t, err, "BlockPrivateAddresses")
	_, err = httpclient.NewTransport(httpclient.Config{BlockPrivateAddresses: true, Proxy: http.ProxyFromEnvironment})
	assert.ErrorContains(t, err, "Config.Proxy")

	// Either alone is fine.
	_, err = httpclient.New(httpclient.Config{Proxy: proxy})
	assert.NoError(t, err)
	tr, err := httpclient.NewTransport(httpclient.Config{BlockPrivateAddresses: true})
	require.NoError(t, err)
	assert.Nil(t, tr.Proxy, "the guard's client goes direct, ignoring HTTP_PROXY")
}

func TestDialGuardOffByDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	d := guardedDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "text/plain")})
	require.NoError(t, d.Deliver(context.Background(), guardMsg("m")), "loopback is allowed when the guard is off")

	// ::1 too, where the host has IPv6 loopback: a real delivery without
	// the guard, refused with it.
	if ln6, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Logf("no IPv6 loopback (%v): ::1 is checked at dial time only", err)
	} else {
		srv6 := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		_ = srv6.Listener.Close()
		srv6.Listener = ln6
		srv6.Start()
		defer srv6.Close()
		d6 := guardedDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv6.URL, "text/plain")})
		require.NoError(t, d6.Deliver(context.Background(), guardMsg("m")), "::1 is allowed when the guard is off")
		guarded, err := httpclient.New(httpclient.Config{BlockPrivateAddresses: true})
		require.NoError(t, err)
		d6 = guardedDeliverer(t, httpdelivery.Config{Client: guarded, Build: httpdelivery.PostTo(srv6.URL, "text/plain")})
		var blocked *httpclient.BlockedAddressError
		require.ErrorAs(t, d6.Deliver(context.Background(), guardMsg("m")), &blocked)
		assert.Equal(t, "loopback", blocked.Reason)
	}

	// The other addresses are dialled for real when the guard is off: the
	// dial fails for network reasons (nothing listens there), not because
	// of the guard.
	tr, err := httpclient.NewTransport(httpclient.Config{})
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"10.0.0.1", "169.254.169.254", "[::1]"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		conn, err := tr.DialContext(ctx, "tcp", host+":"+port)
		cancel()
		if conn != nil {
			_ = conn.Close()
		}
		var blocked *httpclient.BlockedAddressError
		assert.False(t, errors.As(err, &blocked), "%s refused by a guard that is off: %v", host, err)
	}
}

func guardedDeliverer(t *testing.T, cfg httpdelivery.Config) *httpdelivery.Deliverer {
	t.Helper()
	d, err := httpdelivery.New(cfg)
	require.NoError(t, err)
	return d
}

func guardMsg(id string) *delivery.Message {
	return &delivery.Message{ID: id, Payload: []byte(`{"id":"` + id + `"}`)}
}
