package delivery_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
	"github.com/outbound-go/outbound/tokencache"
)

// TestIssuerSecretReachesNoRecordOrLog: a token issuer that fails and
// echoes the client's secret (in its error_description, as a form pair, in
// a Basic header, in a 1 MiB page) while the dispatcher delivers through a
// tokencache.Transport: the secret is in no error Deliver returns, no
// stored record and no line the LogObserver writes, and the stored error
// text is bounded.
func TestIssuerSecretReachesNoRecordOrLog(t *testing.T) {
	const id, secret = "svc-account", "Zq7s3cr3tXy9"
	basic := base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"error_description", "application/json",
			`{"error":"invalid_client","error_description":"client secret ` + secret + ` does not match"}`, http.StatusUnauthorized},
		{"form pair and Basic header", "text/plain",
			"failed: client_secret=" + secret + "\nAuthorization: Basic " + basic, http.StatusInternalServerError},
		{"1 MiB page", "text/html",
			"<p>" + secret + "</p>" + strings.Repeat("<p>frame</p>", (1<<20)/12), http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer issuer.Close()
			var partnerHits atomic.Int32
			partner := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { partnerHits.Add(1) }))
			defer partner.Close()

			var logged bytes.Buffer
			obs, err := logging.NewObserver(logging.Config{
				Logger: slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			require.NoError(t, err)
			src := tokencache.ClientCredentials(&clientcredentials.Config{ClientID: id, ClientSecret: secret,
				TokenURL: issuer.URL, AuthStyle: oauth2.AuthStyleInHeader}, issuer.Client())
			cache, err := tokencache.New(src, tokencache.Config{OnEvent: obs.TokenEvent})
			require.NoError(t, err)
			defer cache.Close()
			d, err := httpdelivery.New(httpdelivery.Config{
				Client: &http.Client{Transport: &tokencache.Transport{Base: partner.Client().Transport, Cache: cache}},
				Build:  httpdelivery.PostTo(partner.URL+"/records", "application/json"),
			})
			require.NoError(t, err)

			deliverErr := d.Deliver(context.Background(), &delivery.Message{ID: "direct", Payload: pl("direct")})
			require.Error(t, deliverErr)
			require.NotContains(t, deliverErr.Error(), secret)
			require.NotContains(t, deliverErr.Error(), basic)
			require.Less(t, len(deliverErr.Error()), 2*delivery.MaxErrorText)

			store := memstore.New(memstore.Config{})
			_, err = store.Enqueue(context.Background(), delivery.Message{ID: "r", Payload: []byte(`{}`)})
			require.NoError(t, err)
			disp, err := delivery.NewDispatcher(delivery.DispatcherConfig{
				Store: store, Deliverer: d, Observer: obs, Policy: retry.Policy{MaxAttempts: 3},
			})
			require.NoError(t, err)
			_, err = disp.RunOnce(context.Background())
			require.NoError(t, err)
			rec, err := store.Get(context.Background(), "r")
			require.NoError(t, err)
			require.NotEqual(t, delivery.StateDelivered, rec.State)
			require.Zero(t, partnerHits.Load(), "no token, no request to the partner")
			stored := fmt.Sprintf("%+v", rec)
			require.NotContains(t, stored, secret, "the secret reached the stored record")
			require.NotContains(t, stored, basic, "the Basic credential reached the stored record")
			require.LessOrEqual(t, len(rec.LastAttempt.Error), delivery.MaxErrorText)

			require.Contains(t, logged.String(), "mint_failed", "the observer saw the failed mint")
			require.NotContains(t, logged.String(), secret, "the secret reached the log")
			require.NotContains(t, logged.String(), basic, "the Basic credential reached the log")
		})
	}
}
