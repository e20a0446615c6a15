package resilient_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/resilient"
)

// A successful POST through the Transport (retry-safety check, retry loop,
// breaker, classification) allocates at most one more than bare net/http
// sending the same request on the same base transport (issue 25). Allocation counts,
// unlike timings, do not depend on the machine's load; both sides include
// the loopback server's.
func TestRoundTripAllocatesAsBareNetHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	base, err := httpclient.NewTransport(httpclient.Config{})
	require.NoError(t, err)
	defer base.CloseIdleConnections()
	rt, err := resilient.NewTransport(base, resilient.Config{})
	require.NoError(t, err)
	payload := []byte(`{"candidate":42}`)
	send := func(c *http.Client) func() {
		return func() {
			req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "cand-42")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	viaResilient, bare := send(&http.Client{Transport: rt}), send(&http.Client{Transport: base})
	viaResilient() // warm up: connection dialled, breaker made
	bare()
	ours := testing.AllocsPerRun(500, viaResilient)
	ref := testing.AllocsPerRun(500, bare)
	t.Logf("resilient: %.0f allocations, bare net/http: %.0f", ours, ref)
	// One more: the done func of gobreaker's two-step Allow, which the
	// breaker's Do cannot avoid without reaching into gobreaker.
	assert.LessOrEqual(t, ours, ref+1)
}
