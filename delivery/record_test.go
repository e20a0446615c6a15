package delivery_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func TestNewAttemptRedactsTheStoredErrorText(t *testing.T) {
	start := time.Now()
	err := classify.Permanent(errors.New(`Post "https://user:pw1@hooks.slack.com/services/T0001/B0001/AbCdEfGh0123456789xyzQ?api_key=k3y": ` +
		`Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln rejected: candidate has no email`))
	a := delivery.NewAttempt(start, err)
	assert.Equal(t, classify.ClassPermanent, a.Class)
	for _, secret := range []string{"pw1", "AbCdEfGh0123456789xyzQ", "k3y", "eyJhbGci"} {
		assert.NotContains(t, a.Error, secret)
	}
	assert.Contains(t, a.Error, "hooks.slack.com/services/T0001/B0001/[redacted]")
	assert.Contains(t, a.Error, "candidate has no email", "the reason stays readable")

	long := delivery.NewAttempt(start, errors.New(strings.Repeat("é", delivery.MaxErrorText)))
	assert.LessOrEqual(t, len(long.Error), delivery.MaxErrorText)
	assert.True(t, utf8.ValidString(long.Error))
	assert.True(t, strings.HasSuffix(long.Error, "…"), "a cut is marked")

	assert.Empty(t, delivery.NewAttempt(start, nil).Error)
	assert.Equal(t, "one line", delivery.NewAttempt(start, errors.New("one\nline")).Error[:8])
}

// The dead letter that Get and List show keeps the partner's words and
// none of the credentials that travelled with the request.
func TestDeadLetterErrorTextIsRedactedEndToEnd(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client_secret=`+r.URL.Query().Get("client_secret")+` is not valid for this account"}`)
	}))
	defer srv.Close()

	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	_, err := store.Enqueue(ctx, delivery.Message{ID: "m1", Payload: []byte(`{}`)})
	require.NoError(t, err)
	send, err := httpdelivery.New(httpdelivery.Config{Client: srv.Client(),
		Build: httpdelivery.PostTo(srv.URL+"/hooks/AbCdEfGh0123456789xyzQ?client_secret=s3cr3t", "application/json")})
	require.NoError(t, err)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send})
	require.NoError(t, err)
	_, err = d.RunOnce(ctx)
	require.NoError(t, err)

	r, err := store.Get(ctx, "m1")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDead, r.State)
	assert.Contains(t, r.LastAttempt.Error, "is not valid for this account", "the partner's words")
	assert.Contains(t, r.LastAttempt.Error, "client_secret=[redacted]")
	assert.NotContains(t, r.LastAttempt.Error, "s3cr3t")
}
