package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDemoEndToEnd(t *testing.T) {
	var out bytes.Buffer
	rep, err := demo(context.Background(), options{
		webhooks: 120, groups: 12, unit: 5 * time.Millisecond, backendOutage: 500 * time.Millisecond, timeout: time.Minute,
	}, &out)
	require.NoError(t, err, out.String())
	assert.Equal(t, 121, rep.accepted, "every webhook got its 202, the resent one too")
	assert.Equal(t, 1, rep.duplicates, "the resent webhook was buffered once")
	assert.Positive(t, rep.acceptedWhileDown, "202s while the backend was down")
	assert.Equal(t, 120, rep.forwarded)
	assert.Zero(t, rep.outOfOrder)
	assert.Greater(t, rep.backendRequests, 120, "some webhooks were retried")
	assert.LessOrEqual(t, rep.peakBackendInFlight, 8, "the backend sees at most the forwarder's workers")
	assert.Contains(t, out.String(), "every order's events reached the backend in order")
}

func TestServe(t *testing.T) {
	backend := deliverytest.StartPartner(t, deliverytest.PartnerConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, backend.URL+"/hooks", slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := range 5 {
		_, _, err := post(ctx, client, "http://"+ln.Addr().String()+"/webhooks", "order-1", fmt.Sprintf("order-1-%04d", i), `{"n":1}`)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return backend.Delivered() == 5 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	reqs := backend.Requests()
	for i, r := range reqs {
		assert.Equal(t, fmt.Sprintf("order-1-%04d", i), r.IdempotencyKey, "in order")
		assert.Equal(t, "order-1", r.Header.Get(GroupHeader), "the group id is forwarded")
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "the webhook's content type is forwarded")
	}
}

func TestBufferAnswers(t *testing.T) {
	outbox := memstore.New(memstore.Config{})
	b := &Buffer{outbox: outbox, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	do := func(method, body string, h map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/webhooks", strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		b.ServeHTTP(w, req)
		return w
	}
	assert.Equal(t, http.StatusMethodNotAllowed, do(http.MethodGet, "", nil).Code)
	assert.Equal(t, http.StatusBadRequest, do(http.MethodPost, "", nil).Code)
	assert.Equal(t, http.StatusRequestEntityTooLarge, do(http.MethodPost, strings.Repeat("x", maxWebhookBytes+1), nil).Code)
	assert.Equal(t, http.StatusBadRequest, do(http.MethodPost, "{}", map[string]string{GroupHeader: strings.Repeat("g", 300)}).Code, "an invalid group is refused")

	w := do(http.MethodPost, `{"a":1}`, map[string]string{GroupHeader: "order-9", WebhookIDHeader: "wh-1"})
	assert.Equal(t, http.StatusAccepted, w.Code)
	assert.JSONEq(t, `{"id":"wh-1","duplicate":false}`, w.Body.String())
	w = do(http.MethodPost, `{"a":1}`, map[string]string{GroupHeader: "order-9", WebhookIDHeader: "wh-1"})
	assert.JSONEq(t, `{"id":"wh-1","duplicate":true}`, w.Body.String(), "a retried webhook is buffered once")
	w = do(http.MethodPost, `plain`, nil)
	assert.Equal(t, http.StatusAccepted, w.Code, "no group: forwarded in any order")

	r, err := outbox.Get(context.Background(), "wh-1")
	require.NoError(t, err)
	assert.Equal(t, "order-9", r.Key)
	assert.Equal(t, "order-9", r.Headers[GroupHeader])
	st, _ := outbox.Stats(context.Background())
	assert.EqualValues(t, 2, st.Count(delivery.StatePending))

	broken := &Buffer{outbox: failingStore{outbox}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w = httptest.NewRecorder()
	broken.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader("x")))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "the sender is told to retry")
}

type failingStore struct{ delivery.Store }

func (failingStore) Enqueue(context.Context, ...delivery.Message) ([]delivery.Enqueued, error) {
	return nil, errors.New("database is down")
}

func TestOutOfOrderDetects(t *testing.T) {
	req := func(group string, n int) deliverytest.Request {
		h := http.Header{}
		h.Set(GroupHeader, group)
		return deliverytest.Request{Processed: true, IdempotencyKey: fmt.Sprintf("%s-%04d", group, n), Header: h}
	}
	assert.Zero(t, outOfOrder([]deliverytest.Request{req("a", 0), req("b", 0), req("a", 1), req("b", 1)}))
	assert.Equal(t, 1, outOfOrder([]deliverytest.Request{req("a", 0), req("b", 1), req("b", 0)}))
	assert.Equal(t, 1, outOfOrder([]deliverytest.Request{req("a", 1)}), "a group must start at its first webhook")
}

func TestWebhookFlags(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-groups", "0"}, &stderr)
	assert.Error(t, err)
	o, err := parseFlags([]string{"-backend", "http://localhost:9000/hooks"}, &stderr)
	require.NoError(t, err)
	assert.Equal(t, ":8080", o.listen)
}
