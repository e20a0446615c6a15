package httpdelivery_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// hangingClient returns a client with the given Timeout whose transport
// answers nothing until the request's context ends.
func hangingClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, context.Cause(r.Context())
	})}
}

// The client's Timeout is enforced by the deliverer as its request
// context's deadline (net/http would add a second deadline and timer per
// request); the error names the setting, is a timeout for classify, and
// the caller's client is left as it was.
func TestClientTimeoutIsTheAttemptDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := hangingClient(time.Minute)
		d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("http://partner.test/hook", "application/json")})
		require.NoError(t, err)

		start := time.Now()
		err = d.Deliver(t.Context(), &delivery.Message{ID: "m1", Payload: []byte(`{}`)})
		require.Error(t, err)
		assert.Equal(t, time.Minute, time.Since(start), "the attempt ends at the client's Timeout")
		assert.Contains(t, err.Error(), "httpdelivery: Client.Timeout of 1m0s exceeded")
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		assert.Equal(t, classify.Cause(context.DeadlineExceeded), classify.Cause(err), "classified as the deadline it is")
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Minute, client.Timeout, "the caller's client is not changed")
	})
}

// A caller's context that ends first is the caller's deadline, not the
// client's Timeout.
func TestCallerDeadlineBeforeClientTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, err := httpdelivery.New(httpdelivery.Config{Client: hangingClient(time.Minute), Build: httpdelivery.PostTo("http://partner.test/hook", "application/json")})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err = d.Deliver(ctx, &delivery.Message{ID: "m1", Payload: []byte(`{}`)})
		require.Error(t, err)
		assert.Equal(t, time.Second, time.Since(start))
		assert.NotContains(t, err.Error(), "Client.Timeout")
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	})
}
