package postgres_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/retry"
)

// A partner that answers a create with 201 and the id it gave the
// resource: the delivered row keeps that status and that answer, also
// when it was delivered on a second attempt after a 503 (the retry's
// attempt replaces the failed one's status and answer).
func TestDeliveredRecordKeepsStatusAndResponse(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Idempotency-Key")
		mu.Lock()
		calls[id]++
		n := calls[id]
		mu.Unlock()
		if id == "flaky" && n == 1 {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"p-123"}`))
	}))
	defer srv.Close()
	send, err := httpdelivery.New(httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL+"/candidates", "application/json")})
	require.NoError(t, err)

	store, _ := newStore(t, nil)
	_, err = store.Enqueue(ctx, delivery.Message{ID: "first-time", Payload: []byte(`{}`)}, delivery.Message{ID: "flaky", Payload: []byte(`{}`)})
	require.NoError(t, err)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send, Policy: retry.Policy{Backoff: retry.Constant(0)}})
	require.NoError(t, err)
	for range 5 {
		_, err := d.RunOnce(ctx)
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		id       string
		attempts int
	}{{"first-time", 1}, {"flaky", 2}} {
		r, err := store.Get(ctx, tc.id)
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, r.State, tc.id)
		assert.Equal(t, tc.attempts, r.Attempts, tc.id)
		assert.Equal(t, 201, r.LastAttempt.Status, tc.id)
		assert.Equal(t, `{"id":"p-123"}`, r.LastAttempt.Response, tc.id)
	}
}
