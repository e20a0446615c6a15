package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// A partner that answers a create with 201 and the id it gave the
// resource: the delivered record keeps that status and that answer, also
// when it was delivered on a second attempt after a 503. Before, a
// successful attempt was stored with status 0 and nothing of the answer,
// so an ATS or CRM integration could not learn the partner's id.
func TestDeliveredRecordKeepsStatusAndResponse(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("Idempotency-Key")
		mu.Lock()
		calls[id]++
		n := calls[id]
		mu.Unlock()
		switch {
		case id == "flaky" && n == 1:
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case id == "secret":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"p-9","access_token":"tok-0123456789abcdef"}`))
		case id == "chatty":
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"id":"p-big","pad":"` + strings.Repeat("x", 100<<10) + `"}`))
		case id == "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"p-123"}`))
		}
	}))
	defer srv.Close()
	send, err := httpdelivery.New(httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL+"/candidates", "application/json")})
	require.NoError(t, err)

	store := memstore.New(memstore.Config{})
	obs := &recordingObserver{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: send, Observer: obs,
		Policy: retry.Policy{Backoff: retry.Constant(0)}})
	for _, id := range []string{"first-time", "flaky", "secret", "chatty", "empty"} {
		enqueue(t, store, delivery.Message{ID: id, Payload: pl(id)})
	}
	drain(t, d)

	for _, tc := range []struct {
		id       string
		attempts int
		status   int
		contains string
	}{
		{"first-time", 1, 201, `{"id":"p-123"}`},
		{"flaky", 2, 201, `{"id":"p-123"}`},
		{"secret", 1, 201, `"id":"p-9"`},
		{"chatty", 1, 200, `{"id":"p-big"`},
		{"empty", 1, 204, ""},
	} {
		r := get(t, store, tc.id)
		assert.Equal(t, delivery.StateDelivered, r.State, tc.id)
		assert.Equal(t, tc.attempts, r.Attempts, tc.id)
		assert.Equal(t, tc.status, r.LastAttempt.Status, "%s: the status of a successful attempt is kept", tc.id)
		assert.Contains(t, r.LastAttempt.Response, tc.contains, tc.id)
		assert.LessOrEqual(t, len(r.LastAttempt.Response), delivery.MaxResponseText, tc.id)
		assert.Empty(t, r.LastAttempt.Error, tc.id)
	}
	assert.NotContains(t, get(t, store, "secret").LastAttempt.Response, "tok-0123456789abcdef", "a credential in the answer is redacted")
	assert.Len(t, get(t, store, "chatty").LastAttempt.Response, delivery.MaxResponseText, "a long answer is cut")

	// Observers see the answer as the attempt settles, the failed one too.
	var flaky []delivery.Attempt
	for _, e := range obs.events() {
		if e.Record.ID == "flaky" {
			flaky = append(flaky, e.Attempt)
		}
	}
	require.Len(t, flaky, 2)
	assert.Equal(t, 503, flaky[0].Status)
	assert.Contains(t, flaky[0].Response, "maintenance")
	assert.Equal(t, 201, flaky[1].Status)
	assert.Equal(t, `{"id":"p-123"}`, flaky[1].Response)
}

// A Deliverer of any kind reports the partner's answer with
// ReportResponse; the last report of an attempt wins, and an error's own
// status is kept over a reported one.
func TestReportResponseFromACustomDeliverer(t *testing.T) {
	store := memstore.New(memstore.Config{})
	send := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		delivery.ReportResponse(ctx, 500, []byte("first try"))
		switch m.ID {
		case "ok":
			delivery.ReportResponse(ctx, 202, []byte("queued as job-7"))
			return nil
		default:
			delivery.ReportResponse(ctx, 200, []byte(`{"error":"rejected"}`))
			return &classify.Error{Class: classify.ClassPermanent, Status: 422}
		}
	})
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: send})
	enqueue(t, store, delivery.Message{ID: "ok", Payload: pl("ok")}, delivery.Message{ID: "bad", Payload: pl("bad")})
	drain(t, d)

	ok := get(t, store, "ok")
	assert.Equal(t, 202, ok.LastAttempt.Status)
	assert.Equal(t, "queued as job-7", ok.LastAttempt.Response)
	bad := get(t, store, "bad")
	assert.Equal(t, delivery.StateDead, bad.State)
	assert.Equal(t, 422, bad.LastAttempt.Status, "the error's status wins")
	assert.Equal(t, `{"error":"rejected"}`, bad.LastAttempt.Response)

	// Outside a dispatcher's attempt it does nothing (and does not panic).
	delivery.ReportResponse(context.Background(), 201, []byte("ignored"))
}
