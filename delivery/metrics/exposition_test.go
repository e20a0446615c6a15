package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// TestExemplarsAreServedInOpenMetrics: what the README promises a scraper
// sees when it asks for OpenMetrics.
func TestExemplarsAreServedInOpenMetrics(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	e := attempt("rec-1", "ats", classify.ClassEphemeral, "timeout")
	e.Record.CorrelationID = "req-7f3a"
	m.ObserveAttempt(context.Background(), e)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `outbound_attempts_total{cause="timeout",class="ephemeral",destination="ats"} 1.0 # {correlation_id="req-7f3a"} 1.0`)
	assert.Contains(t, string(body), `# {correlation_id="req-7f3a"} 0.02`)
}
