package otel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
	"github.com/outbound-go/outbound/retry"
)

// telemetry is one process's OpenTelemetry SDK: spans in memory, metrics
// read on demand.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	tel.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = tel.mp.Shutdown(context.Background())
	})
	return tel
}

// named returns the ended spans called name.
func (tel *telemetry) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// collect reads the metrics.
func (tel *telemetry) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// partner answers each request with the next status of its script (the
// last one repeats) and keeps the traceparent of each request.
type partner struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	parents  []string
}

func startPartner(t *testing.T, statuses ...int) *partner {
	p := &partner{statuses: statuses}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		n := len(p.parents)
		p.parents = append(p.parents, r.Header.Get("Traceparent"))
		status := p.statuses[min(n, len(p.statuses)-1)]
		p.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *partner) traceparents() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.parents...)
}

// sender is an HTTP deliverer to p whose client traces with tel.
func sender(t *testing.T, p *partner, tel *telemetry) delivery.Deliverer {
	t.Helper()
	client := &http.Client{Transport: &deliveryotel.Transport{Base: p.Client().Transport, TracerProvider: tel.tp}}
	d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(p.URL+"/records", "application/json")})
	require.NoError(t, err)
	return d
}

// noWait retries at once, so a test's second run makes the retry.
var noWait = retry.Policy{Backoff: retry.BackoffFunc(func(int) time.Duration { return 0 })}

// drain runs d until a run finds nothing due.
func drain(t *testing.T, d *delivery.Dispatcher) {
	t.Helper()
	for range 20 {
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		if rep.Claimed == 0 {
			return
		}
	}
	t.Fatal("still claiming after 20 runs")
}
