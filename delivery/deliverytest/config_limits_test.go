package deliverytest_test

import (
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/deliverytest"
)

// MaxBody at the largest int64 wrapped the read limit negative: the partner
// read no body at all. A Retry-After near the largest Duration was rounded
// up with an overflow and sent as a negative number of seconds.
func TestPartnerLargestValues(t *testing.T) {
	p, err := deliverytest.NewPartner(deliverytest.PartnerConfig{MaxBody: math.MaxInt64,
		Default: deliverytest.Response{Status: http.StatusTooManyRequests, RetryAfter: math.MaxInt64}})
	require.NoError(t, err)
	defer p.Close()
	resp, err := p.Client().Post(p.URL+"/records", "application/json", strings.NewReader(`{"id":"a"}`))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "9223372037", resp.Header.Get("Retry-After"), "MaxInt64 ns rounded up to whole seconds")
	reqs := p.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, `{"id":"a"}`, string(reqs[0].Body))
}
