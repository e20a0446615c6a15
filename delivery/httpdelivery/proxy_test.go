package httpdelivery_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// forwardProxy is a plain-http forward proxy that relays every request to
// the address in its URL, wherever that is.
func forwardProxy(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var relayed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		relayed.Add(1)
		out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv, &relayed
}

// A proxy set on the guarded transport after construction used to carry
// requests to loopback (and to cloud metadata): the guard judged only the
// proxy's address. Here the proxy's own address is let through, as a
// public proxy's would be; the guard must refuse to dial at all.
func TestDialGuardRefusesAProxySetAfterConstruction(t *testing.T) {
	var partnerHits atomic.Int64
	partner := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { partnerHits.Add(1) }))
	defer partner.Close()
	proxy, relayed := forwardProxy(t)
	proxyURL, err := url.Parse(proxy.URL)
	require.NoError(t, err)
	_, partnerPort, _ := net.SplitHostPort(partner.Listener.Addr().String())

	for _, set := range []struct {
		name  string
		proxy func(*http.Request) (*url.URL, error)
	}{
		{"ProxyURL", http.ProxyURL(proxyURL)},
		{"a func that returns no proxy for this request", func(*http.Request) (*url.URL, error) { return nil, nil }},
	} {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			t.Run(set.name+"/"+host, func(t *testing.T) {
				client, err := httpclient.New(httpclient.Config{BlockPrivateAddresses: true, AllowedAddresses: []netip.AddrPort{addrPort(t, proxy)}})
				require.NoError(t, err)
				defer client.CloseIdleConnections()
				client.Transport.(*http.Transport).Proxy = set.proxy // the mistake

				d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("http://"+host+":"+partnerPort+"/", "text/plain")})
				err = d.Deliver(t.Context(), msg("m"))
				require.Error(t, err)
				assert.Equal(t, classify.ClassPermanent, classify.Of(err), "err: %v", err)
				assert.Contains(t, err.Error(), "Proxy")
			})
		}
	}

	// The same through the public constructor, to cloud metadata.
	tr, err := httpclient.NewTransport(httpclient.Config{BlockPrivateAddresses: true})
	require.NoError(t, err)
	defer tr.CloseIdleConnections()
	tr.Proxy = http.ProxyURL(proxyURL)
	d := newDeliverer(t, httpdelivery.Config{Client: &http.Client{Transport: tr}, Build: httpdelivery.PostTo("http://169.254.169.254/latest/meta-data/", "text/plain")})
	err = d.Deliver(t.Context(), msg("m"))
	assert.Equal(t, classify.ClassPermanent, classify.Of(err), "err: %v", err)
	assert.ErrorContains(t, err, "Proxy was set after NewTransport")

	assert.Zero(t, relayed.Load(), "the proxy was used")
	assert.Zero(t, partnerHits.Load(), "a guarded client reached loopback")
}

// statusProxy answers every request, CONNECT included, with status.
func statusProxy(t *testing.T, status int) *url.URL {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("proxyuser", "proxy-s3cr3t")
	return u
}

// A proxy that refuses the request says nothing about the record: the
// attempt used to be classified as the partner's answer (a 407 or 403
// dead-lettered, a 502 retried as if the partner failed). It is now
// Unavailable, with a cause that names the proxy.
func TestProxyRefusalsAreTheChannelNotThePartner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target string // https goes through CONNECT
		status int
	}{
		{"CONNECT 403", "https://partner.example/records", http.StatusForbidden},
		{"CONNECT 407", "https://partner.example/records", http.StatusProxyAuthRequired},
		{"CONNECT 502", "https://partner.example/records", http.StatusBadGateway},
		{"CONNECT 503", "https://partner.example/records", http.StatusServiceUnavailable},
		{"plain http 407", "http://partner.example/records", http.StatusProxyAuthRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := statusProxy(t, tc.status)
			client, err := httpclient.New(httpclient.Config{Proxy: http.ProxyURL(proxy)})
			require.NoError(t, err)
			defer client.CloseIdleConnections()
			d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(tc.target, "application/json")})

			err = d.Deliver(t.Context(), msg("m"))
			require.Error(t, err)
			assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "err: %v", err)
			assert.Equal(t, "proxy_"+strconv.Itoa(tc.status), classify.Cause(err))
			var pe *httpclient.ProxyError
			require.True(t, errors.As(err, &pe), "err: %v", err)
			assert.Equal(t, tc.status, pe.Status)
			assert.NotContains(t, err.Error(), "proxy-s3cr3t")
		})
	}
}

// CheckProxyConnect gives a transport of the user's own the same
// classification of a refused CONNECT.
func TestCheckProxyConnectOnAnOwnTransport(t *testing.T) {
	proxy := statusProxy(t, http.StatusForbidden)
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), OnProxyConnectResponse: httpclient.CheckProxyConnect}
	defer tr.CloseIdleConnections()
	d := newDeliverer(t, httpdelivery.Config{Client: &http.Client{Transport: tr}, Build: httpdelivery.PostTo("https://partner.example/", "text/plain")})
	err := d.Deliver(t.Context(), msg("m"))
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "err: %v", err)
	assert.Equal(t, "proxy_403", classify.Cause(err))
	var pe *httpclient.ProxyError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Proxy, "[redacted]@127.0.0.1")
}
