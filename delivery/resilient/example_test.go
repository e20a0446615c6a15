package resilient_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/outbound-go/outbound/delivery/resilient"
	"github.com/outbound-go/outbound/retry"
)

// A partner API behind OAuth2 client credentials is called through
// golang.org/x/oauth2, a library that only takes an *http.Client. The
// partner throttles the first call; the resilient client waits out its
// Retry-After and the library never sees the 429.
func ExampleNewClient() {
	var calls atomic.Int32
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"t-1","token_type":"Bearer","expires_in":3600}`)
			return
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"id":"cand-42","status":"hired"}`)
	}))
	defer partner.Close()

	client, err := resilient.NewClient(resilient.Config{
		// Short waits for a caller that is blocked in client.Do; a
		// Retry-After up to 10s is honoured, a longer one is returned.
		Policy: retry.Policy{Backoff: retry.Constant(200 * time.Millisecond), MaxAttempts: 3, MaxRetryAfter: 10 * time.Second},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()

	// Hand the client to the library: here x/oauth2, which fetches its
	// tokens and sends the API calls through it.
	creds := clientcredentials.Config{ClientID: "outbound", ClientSecret: "secret", TokenURL: partner.URL + "/token"}
	api := creds.Client(context.WithValue(context.Background(), oauth2.HTTPClient, client))

	resp, err := api.Get(partner.URL + "/v1/candidates/cand-42")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	fmt.Println("attempts:", calls.Load())
	// Output:
	// 200 {"id":"cand-42","status":"hired"}
	// attempts: 2
}
