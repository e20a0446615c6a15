package httpdelivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// The Deliverer reports every answer's rate-limit headers to the
// Dispatcher (delivery.ReportRateLimit), parsed: 30 requests left
// (X-RateLimit-Remaining) until a reset 10s away (X-RateLimit-Reset, or
// the IETF RateLimit field's r and t) lower the destination's fleet-wide
// rate from its configured 100/s to 3/s; none left (r=0) until a reset
// 5s away pauses it until then.
func TestRateLimitHeadersReachTheDispatcher(t *testing.T) {
	for _, tc := range []struct {
		name      string
		headers   map[string]string
		rate      float64
		pauseFor  time.Duration
		status    int
		delivered bool
	}{
		{name: "X-RateLimit", headers: map[string]string{"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "30", "X-RateLimit-Reset": "10"}, rate: 3, status: 200, delivered: true},
		{name: "X-RateLimit as a Unix time", headers: map[string]string{"X-RateLimit-Remaining": "30", "X-RateLimit-Reset": "unix+10"}, rate: 3, status: 200, delivered: true},
		{name: "IETF RateLimit", headers: map[string]string{"RateLimit": `"default";r=30;t=10`}, rate: 3, status: 200, delivered: true},
		{name: "plenty left", headers: map[string]string{"X-RateLimit-Remaining": "5000", "X-RateLimit-Reset": "10"}, rate: 100, status: 200, delivered: true},
		{name: "spent", headers: map[string]string{"RateLimit": `"default";r=0;t=5`}, rate: 100, pauseFor: 5 * time.Second, status: 200, delivered: true},
		{name: "spent, 429", headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}, rate: 100, pauseFor: 5 * time.Second, status: 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tc.headers {
					if v == "unix+10" {
						// 10 to 11 seconds ahead: 30 left allow 2.7 to 3 a second.
						v = strconv.FormatInt(time.Now().Unix()+11, 10)
					}
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			defer srv.Client().CloseIdleConnections()
			send := newDeliverer(t, httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL, "application/json")})
			store := memstore.New(memstore.Config{})
			_, err := store.Enqueue(context.Background(), delivery.Message{ID: "m", Destination: "p", Payload: []byte(`{}`)})
			require.NoError(t, err)
			d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send,
				Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 1}}})
			require.NoError(t, err)
			before := time.Now()
			_, err = d.RunOnce(context.Background())
			require.NoError(t, err)
			after := time.Now()

			ds, err := store.Destinations(context.Background())
			require.NoError(t, err)
			require.Len(t, ds, 1)
			if tc.name == "X-RateLimit as a Unix time" {
				assert.InDelta(t, tc.rate, ds[0].Rate, 0.35, "30 left over 10s or a little less")
			} else {
				assert.InDelta(t, tc.rate, ds[0].Rate, 1e-9, "the fleet's rate")
			}
			if tc.pauseFor > 0 {
				assert.Equal(t, delivery.DestinationPaused, ds[0].Status)
				assert.Equal(t, "ratelimit_remaining", ds[0].Cause)
				assert.False(t, ds[0].PausedUntil.Before(before.Add(tc.pauseFor)), "until the reset")
				assert.False(t, ds[0].PausedUntil.After(after.Add(tc.pauseFor)), "until the reset")
			} else {
				assert.Equal(t, delivery.DestinationActive, ds[0].Status)
			}
			r, err := store.Get(context.Background(), "m")
			require.NoError(t, err)
			if tc.delivered {
				assert.Equal(t, delivery.StateDelivered, r.State)
			} else {
				assert.Zero(t, r.Attempts, "the 429 spent no attempt")
			}
		})
	}
}
