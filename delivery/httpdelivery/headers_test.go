package httpdelivery_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// The Idempotency-Key and correlation values share one allocation; a
// transport or middleware that appends to one of them must not change the
// other.
func TestIdempotencyAndCorrelationValuesAreIndependent(t *testing.T) {
	var got http.Header
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Header["Idempotency-Key"] = append(r.Header["Idempotency-Key"], "appended")
		got = r.Header.Clone()
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})}
	d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("http://partner.test/hook", "application/json")})
	require.NoError(t, err)
	require.NoError(t, d.Deliver(t.Context(), &delivery.Message{ID: "m1", IdempotencyKey: "idem-1", CorrelationID: "corr-1", Payload: []byte(`{}`)}))
	assert.Equal(t, []string{"idem-1", "appended"}, got["Idempotency-Key"])
	assert.Equal(t, []string{"corr-1"}, got["X-Correlation-Id"])
}
