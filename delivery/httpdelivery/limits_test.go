package httpdelivery_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// Response headers used to be bounded only by net/http's 10 MiB: a few
// dozen concurrent answers with 9 MiB headers took hundreds of MiB of heap.
// NewClient bounds them at 1 MiB by default; the attempt fails as
// Ephemeral (the partner's misbehaviour may pass; it is retried, then
// dead-lettered).
func TestHugeResponseHeadersAreRefused(t *testing.T) {
	huge := strings.Repeat("x", 2<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Huge", huge)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name string
		cfg  httpclient.Config
	}{
		{"default", httpclient.Config{}},
		{"configured", httpclient.Config{MaxResponseHeaderBytes: 64 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, err := httpclient.New(tc.cfg)
			require.NoError(t, err)
			defer client.CloseIdleConnections()
			d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "text/plain")})
			err = d.Deliver(t.Context(), msg("m"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "response headers exceeded")
			assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		})
	}

	tr, err := httpclient.NewTransport(httpclient.Config{})
	require.NoError(t, err)
	assert.Equal(t, int64(httpclient.DefaultMaxResponseHeaderBytes), tr.MaxResponseHeaderBytes)
	_, err = httpclient.NewTransport(httpclient.Config{MaxResponseHeaderBytes: -1})
	assert.ErrorContains(t, err, "MaxResponseHeaderBytes")
}

// A 200 whose body then trickles used to hold the worker until the attempt
// timed out, draining it. Once the outcome is known the drain is bounded in
// time: Deliver returns while the partner is still trickling, and the
// connection is abandoned (the partner sees the client hang up).
func TestTricklingBodyDoesNotHoldTheWorker(t *testing.T) {
	release := make(chan struct{})
	hungUp := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				close(hungUp)
				return
			}
			http.NewResponseController(w).Flush()
			select {
			case <-release:
				return
			case <-r.Context().Done():
				close(hungUp)
				return
			case <-tick.C:
			}
		}
	}))
	defer srv.Close()
	defer close(release)

	client, err := httpclient.New(httpclient.Config{Timeout: -1}) // no overall limit: only the drain bound can end it
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "text/plain")})

	done := make(chan error, 1)
	go func() { done <- d.Deliver(t.Context(), msg("m")) }()
	select {
	case err := <-done:
		require.NoError(t, err, "the status said delivered")
	case <-time.After(30 * time.Second): // generous: the default drain bound is one second
		t.Fatal("Deliver is still draining a body the partner has not finished sending")
	}
	select {
	case <-hungUp:
	case <-time.After(time.Minute):
		t.Fatal("the trickling connection was not abandoned")
	}
}

func TestHTTPConfigRejectsNegativeMaxDrainTime(t *testing.T) {
	_, err := httpdelivery.New(httpdelivery.Config{Build: httpdelivery.PostTo("http://x.example", "text/plain"), MaxDrainTime: -time.Second})
	assert.ErrorContains(t, err, "MaxDrainTime")
}
