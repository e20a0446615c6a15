package httpdelivery_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// deliverExtraAllocs is how many allocations a successful Deliver may make
// beyond the same request (same headers, same transport) sent by a bare
// http.Client.Do with no deadline: the context that enforces
// Client.Timeout (the context, its timer and its cancel func, 3), what the
// transport's own per-request context then costs for hanging under a
// cancelable parent (the parent's Done channel and children map, 2), and
// the one slice
// holding the Idempotency-Key and correlation values.
const deliverExtraAllocs = 6

// A successful delivery over loopback allocates at most
// deliverExtraAllocs more than bare net/http sending the same request on
// the same transport (issue 24): no per-layer copies of headers, ids or
// contexts. Allocation counts, unlike timings, do not depend on the
// machine's load; both sides include the server's.
func TestDeliverAllocations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "application/json")})
	require.NoError(t, err)
	payload := []byte(`{"candidate":42}`)
	m := &delivery.Message{ID: "m-1", CorrelationID: "c-1", Payload: payload}
	ctx := context.Background()

	bare := &http.Client{Transport: client.Transport}
	sendBare := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "m-1")
		req.Header.Set("X-Correlation-Id", "c-1")
		resp, err := bare.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	deliver := func() {
		if err := d.Deliver(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	deliver() // warm both up: connections dialled, pools filled
	sendBare()
	ours := testing.AllocsPerRun(500, deliver)
	base := testing.AllocsPerRun(500, sendBare)
	t.Logf("Deliver: %.0f allocations, bare net/http: %.0f", ours, base)
	assert.LessOrEqual(t, ours-base, float64(deliverExtraAllocs))
}
