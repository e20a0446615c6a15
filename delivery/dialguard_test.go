package delivery_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
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
		"8.8.8.8":          "",
		"2606:4700::1111":  "",
		"172.32.0.1":       "",
	}
	for in, want := range cases {
		assert.Equal(t, want, delivery.BlockedReason(netip.MustParseAddr(in)), in)
	}
}

func TestDialGuardRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	guarded, err := delivery.NewClient(delivery.ClientConfig{BlockPrivateAddresses: true, DialTimeout: time.Second})
	require.NoError(t, err)
	for _, host := range []string{"127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]"} {
		t.Run(host, func(t *testing.T) {
			d := newDeliverer(t, delivery.HTTPConfig{Client: guarded, Build: delivery.PostTo("http://"+host+":"+port+"/", "text/plain")})
			err := d.Deliver(context.Background(), msg("m"))
			require.Error(t, err)
			assert.Equal(t, classify.ClassPermanent, classify.Of(err))
			var blocked *delivery.BlockedAddressError
			require.True(t, errors.As(err, &blocked), "err: %v", err)
			assert.NotEmpty(t, blocked.Reason)
			assert.Contains(t, err.Error(), blocked.Reason+" address")
		})
	}
	// "localhost" resolves to loopback: the guard judges the resolved address.
	d := newDeliverer(t, delivery.HTTPConfig{Client: guarded, Build: delivery.PostTo("http://localhost:"+port+"/", "text/plain")})
	var blocked *delivery.BlockedAddressError
	assert.ErrorAs(t, d.Deliver(context.Background(), msg("m")), &blocked)
}

func TestDialGuardOffByDefault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	client, err := delivery.NewClient(delivery.ClientConfig{})
	require.NoError(t, err)
	d := newDeliverer(t, delivery.HTTPConfig{Client: client, Build: delivery.PostTo(srv.URL, "text/plain")})
	require.NoError(t, d.Deliver(context.Background(), msg("m")), "loopback is allowed when the guard is off")

	// The other addresses are dialled for real when the guard is off: the
	// dial fails for network reasons (nothing listens there), not because
	// of the guard.
	tr, err := delivery.NewTransport(delivery.ClientConfig{})
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, host := range []string{"10.0.0.1", "169.254.169.254", "[::1]"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		conn, err := tr.DialContext(ctx, "tcp", host+":"+port)
		cancel()
		if conn != nil {
			_ = conn.Close()
		}
		var blocked *delivery.BlockedAddressError
		assert.False(t, errors.As(err, &blocked), "%s refused by a guard that is off: %v", host, err)
	}
}
