package otel_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The Transport injects the client span's trace context into a copy of
// the request, records the HTTP client attributes (the URL redacted,
// headers never) and marks 4xx/5xx answers and failures as errors.
func TestTransport(t *testing.T) {
	tel := newTelemetry(t)
	var got *http.Request
	tr := &deliveryotel.Transport{TracerProvider: tel.tp, Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r
		if r.URL.Path == "/down" {
			return nil, errors.New("dial tcp: connection refused")
		}
		status := http.StatusCreated
		if r.URL.Path == "/missing" {
			status = http.StatusNotFound
		}
		return &http.Response{StatusCode: status, Body: http.NoBody, Request: r}, nil
	})}

	ctx, parent := tel.tp.Tracer("test").Start(t.Context(), "attempt")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://user:pw@partner.example/hooks?token=s3cret", strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Empty(t, req.Header.Get("Traceparent"), "the caller's request is not changed")
	require.NotNil(t, got)
	assert.Equal(t, "Bearer s3cret", got.Header.Get("Authorization"), "its headers are sent")

	spans := tel.named("POST")
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, trace.SpanKindClient, s.SpanKind())
	assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID())
	assert.Equal(t, "00-"+s.SpanContext().TraceID().String()+"-"+s.SpanContext().SpanID().String()+"-01", got.Header.Get("Traceparent"))
	at := attrs(s)
	assert.Equal(t, "POST", at["http.request.method"].AsString())
	assert.Equal(t, "partner.example", at["server.address"].AsString())
	assert.Equal(t, int64(443), at["server.port"].AsInt64())
	assert.Equal(t, int64(201), at["http.response.status_code"].AsInt64())
	assert.NotContains(t, at["url.full"].AsString(), "s3cret", "url.full is redacted")
	assert.NotContains(t, at["url.full"].AsString(), "pw")
	for k, v := range at {
		assert.NotContains(t, v.String(), "Bearer", "%s carries no header", k)
	}
	assert.Equal(t, codes.Unset, s.Status().Code)

	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://partner.example:8080/missing", nil)
	_, err = tr.RoundTrip(req)
	require.NoError(t, err)
	s = tel.named("GET")[0]
	assert.Equal(t, codes.Error, s.Status().Code, "a 404 is an error of a client span")
	assert.Equal(t, "404", attrs(s)["error.type"].AsString())
	assert.Equal(t, int64(8080), attrs(s)["server.port"].AsInt64())

	req, _ = http.NewRequestWithContext(ctx, http.MethodPut, "http://partner.example/down", nil)
	_, err = tr.RoundTrip(req)
	require.Error(t, err, "the base transport's error is returned")
	s = tel.named("PUT")[0]
	assert.Equal(t, codes.Error, s.Status().Code)
	assert.NotEmpty(t, attrs(s)["error.type"].AsString())
	parent.End()
}

// The zero Transport sends with http.DefaultTransport and writes the W3C
// headers; another propagator can be chosen.
func TestTransportDefaultsAndPropagator(t *testing.T) {
	seen := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen <- r.Header.Clone() }))
	defer srv.Close()
	tel := newTelemetry(t)
	ctx, span := tel.tp.Tracer("test").Start(t.Context(), "attempt")
	defer span.End()

	client := &http.Client{Transport: &deliveryotel.Transport{}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	h := <-seen
	assert.Contains(t, h.Get("Traceparent"), span.SpanContext().TraceID().String(),
		"the zero Transport propagates W3C trace context even with the global no-op tracer provider")

	client = &http.Client{Transport: &deliveryotel.Transport{TracerProvider: tel.tp, Propagator: propagation.Baggage{}}}
	defer client.CloseIdleConnections()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err = client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Empty(t, (<-seen).Get("Traceparent"), "the chosen propagator, not W3C trace context")
}
