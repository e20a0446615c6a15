package otel

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Attribute keys of the HTTP client span conventions.
const (
	httpRequestMethod = attribute.Key("http.request.method")
	serverAddress     = attribute.Key("server.address")
	serverPort        = attribute.Key("server.port")
	urlFull           = attribute.Key("url.full")
)

// Transport is an http.RoundTripper that makes a client span for each
// request and injects its trace context into the request's headers
// (traceparent and tracestate with the default propagator), so that the
// partner's own tracing joins the trace of the attempt. Put it in the
// HTTP client of the deliverer; with an Observer on the dispatcher, each
// request's span is a child of its attempt's span.
//
// The span is named after the method ("POST"), has kind Client and the
// attributes of the HTTP client conventions: http.request.method,
// server.address, server.port, url.full (redacted as
// delivery.RedactURL does: no user info, no query values) and
// http.response.status_code; a status of 400 or more, or no response,
// makes it an Error with error.type set. It ends when the response
// headers arrive (or the request fails), not when the body is read.
// Request headers and bodies are never recorded.
//
// The zero Transport is usable: it sends with http.DefaultTransport and
// traces with the global tracer provider. The request passed to RoundTrip
// is not changed: the headers are set on a copy.
type Transport struct {
	// Base sends the requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
	// TracerProvider makes the client spans. Nil means the global one
	// (otel.GetTracerProvider), read at each request.
	TracerProvider trace.TracerProvider
	// Propagator writes the trace context into the request headers. Nil
	// means propagation.TraceContext (W3C traceparent and tracestate),
	// not the global propagator, which is a no-op until a program sets
	// one.
	Propagator propagation.TextMapPropagator
}

// RoundTrip implements http.RoundTripper. It returns Base's response and
// error unchanged.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base, tp, prop := t.Base, t.TracerProvider, t.Propagator
	if base == nil {
		base = http.DefaultTransport
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	attrs := []attribute.KeyValue{httpRequestMethod.String(method)}
	if req.URL != nil {
		host, port := req.URL.Hostname(), req.URL.Port()
		if port == "" {
			switch req.URL.Scheme {
			case "http":
				port = "80"
			case "https":
				port = "443"
			}
		}
		attrs = append(attrs, serverAddress.String(host), urlFull.String(delivery.RedactURL(req.URL.String())))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, serverPort.Int(p))
		}
	}
	ctx, span := tp.Tracer(ScopeName).Start(req.Context(), method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	out := req.Clone(ctx)
	prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := base.RoundTrip(out)
	if err != nil {
		cause := classify.Cause(err)
		if _, ok := err.(net.Error); ok && cause == "other" {
			cause = "network"
		}
		span.SetAttributes(errorType.String(cause))
		span.SetStatus(codes.Error, cause)
		return resp, err
	}
	span.SetAttributes(httpStatusCode.Int(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(errorType.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	return resp, nil
}
