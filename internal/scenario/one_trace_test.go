package scenario_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
	"github.com/outbound-go/outbound/retry"
)

// pgProcess is one process on a shared PostgreSQL outbox: its own pool,
// store and OpenTelemetry SDK.
type pgProcess struct {
	store  *postgres.Store
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newPGProcess(t *testing.T, url, schema string) *pgProcess {
	t.Helper()
	pool, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	require.NoError(t, store.Migrate(t.Context()))
	p := &pgProcess{store: store, spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	p.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans))
	p.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.reader))
	t.Cleanup(func() {
		_ = p.tp.Shutdown(context.Background())
		_ = p.mp.Shutdown(context.Background())
	})
	return p
}

func pgSchema(t *testing.T) (url, schema string) {
	t.Helper()
	url = testenv.PostgresURL(t)
	admin, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	schema = testenv.UniqueName(t, "scenario")
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		assert.NoError(t, err)
	})
	return url, schema
}

// Operators look at traces first: a record enqueued by a traced request
// and delivered minutes later by another process must not end the trace at
// the enqueue. Here a service's request handler enqueues an order update
// inside its span (PostgreSQL outbox), a dispatcher in another process
// (its own pool and tracer provider) sends it, the partner fails twice
// with 503 and then accepts: with Config.JoinTrace, the request span and
// the three attempt spans are one trace, each attempt linked to the request span, and the partner
// saw that trace in the traceparent of every attempt. The metrics read
// through the dispatcher's ManualReader match the store's Stats and the
// attempts made.
func TestOneTraceFromRequestToEveryAttempt(t *testing.T) {
	url, schema := pgSchema(t)
	service, dispatcher := newPGProcess(t, url, schema), newPGProcess(t, url, schema)
	deliveryotel.CaptureTraceContext()
	t.Cleanup(func() { delivery.SetTraceContextSource(nil) })

	// The service: POST /orders/7 enqueues the update inside its span.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := service.tp.Tracer("shop").Start(r.Context(), "POST /orders/{id}", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if _, err := service.store.Enqueue(ctx, delivery.Message{ID: "order-7-update", Destination: "erp",
			Key: "order-7", Payload: []byte(`{"order":7,"status":"paid"}`)}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(api.Close)
	resp, err := api.Client().Post(api.URL+"/orders/7", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	requests := service.spans.Ended()
	require.Len(t, requests, 1)
	request := requests[0].SpanContext()

	// The dispatcher, another process: the partner fails twice, then
	// accepts.
	partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
		Rules: []deliverytest.Rule{{Responses: deliverytest.Statuses(503, 503)}},
	})
	client := &http.Client{Transport: &deliveryotel.Transport{Base: partner.Client().Transport, TracerProvider: dispatcher.tp}}
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(partner.URL+"/orders", "application/json")})
	require.NoError(t, err)
	obs, err := deliveryotel.NewObserver(deliveryotel.Config{TracerProvider: dispatcher.tp, MeterProvider: dispatcher.mp, Store: dispatcher.store, JoinTrace: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = obs.Close() })
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: dispatcher.store, Observer: obs,
		Destinations: map[string]delivery.DestinationConfig{"erp": {Deliverer: send}},
		Policy:       retry.Policy{Backoff: retry.BackoffFunc(func(int) time.Duration { return 0 })}})
	require.NoError(t, err)
	for range 10 {
		rep, err := d.RunOnce(t.Context())
		require.NoError(t, err)
		if rep.Claimed == 0 {
			break
		}
	}
	rec, err := dispatcher.store.Get(t.Context(), "order-7-update")
	require.NoError(t, err)
	require.Equal(t, delivery.StateDelivered, rec.State)
	require.Equal(t, 3, rec.Attempts)

	var attempts, clients []sdktrace.ReadOnlySpan
	for _, s := range dispatcher.spans.Ended() {
		switch s.Name() {
		case "deliver erp":
			attempts = append(attempts, s)
		case "POST":
			clients = append(clients, s)
		}
	}
	require.Len(t, attempts, 3, "one span per attempt")
	require.Len(t, clients, 3, "one client span per request")
	sent := partner.Requests()
	require.Len(t, sent, 3)
	for i, a := range attempts {
		assert.Equal(t, request.TraceID(), a.SpanContext().TraceID(), "attempt %d is in the request's trace", i+1)
		require.Len(t, a.Links(), 1)
		assert.Equal(t, request.SpanID(), a.Links()[0].SpanContext.SpanID(), "attempt %d links to the request span", i+1)
		assert.Equal(t, request.TraceID(), clients[i].SpanContext().TraceID())
		tp := sent[i].Header.Get("Traceparent")
		assert.True(t, strings.HasPrefix(tp, "00-"+request.TraceID().String()+"-"),
			"the partner saw the request's trace on attempt %d: %q", i+1, tp)
	}
	for i, want := range []string{"ephemeral", "ephemeral", "ok"} {
		var class string
		var status int64
		for _, kv := range attempts[i].Attributes() {
			switch kv.Key {
			case deliveryotel.ClassKey:
				class = kv.Value.AsString()
			case "http.response.status_code":
				status = kv.Value.AsInt64()
			}
		}
		assert.Equal(t, want, class, "attempt %d", i+1)
		assert.Equal(t, map[bool]int64{true: 503, false: 200}[i < 2], status, "attempt %d", i+1)
		// Failed attempts are errors in the trace; the last one is not.
		assert.Equal(t, map[bool]codes.Code{true: codes.Error, false: codes.Unset}[i < 2], attempts[i].Status().Code, "attempt %d status", i+1)
	}

	// The metrics match the attempts made and the store's figures.
	st, err := dispatcher.store.Stats(t.Context())
	require.NoError(t, err)
	var rm metricdata.ResourceMetrics
	require.NoError(t, dispatcher.reader.Collect(t.Context(), &rm))
	byClass, byState := map[string]int64{}, map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				switch m.Name {
				case "outbound.attempts":
					v, _ := dp.Attributes.Value(deliveryotel.ClassKey)
					byClass[v.AsString()] += dp.Value
				case "outbound.records":
					v, _ := dp.Attributes.Value(deliveryotel.StateKey)
					byState[v.AsString()] += dp.Value
				}
			}
		}
	}
	assert.Equal(t, map[string]int64{"ephemeral": 2, "ok": 1}, byClass)
	for _, s := range delivery.States {
		assert.Equal(t, st.Count(s), byState[s.String()], "records %s", s)
	}
	assert.Equal(t, int64(1), byState["delivered"])
}

// A malformed trace context in the store (written by other code, or
// damaged) is ignored: the record is delivered, its attempt span has no
// link, nothing panics.
func TestMalformedStoredTraceContextIsIgnored(t *testing.T) {
	url, schema := pgSchema(t)
	p := newPGProcess(t, url, schema)
	_, err := p.store.Enqueue(delivery.WithTraceContext(t.Context(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""),
		delivery.Message{ID: "damaged", Payload: []byte(`{}`)})
	require.NoError(t, err)
	admin, err := pgxpool.New(t.Context(), url)
	require.NoError(t, err)
	defer admin.Close()
	tag, err := admin.Exec(t.Context(), `UPDATE `+schema+`.outbox SET trace_parent = $1, trace_state = $2 WHERE id = 'damaged'`,
		"00-not-hex-at-all", "==,,")
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())

	partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{})
	client := &http.Client{Transport: &deliveryotel.Transport{Base: partner.Client().Transport, TracerProvider: p.tp}}
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(partner.URL, "application/json")})
	require.NoError(t, err)
	obs, err := deliveryotel.NewObserver(deliveryotel.Config{TracerProvider: p.tp, MeterProvider: p.mp})
	require.NoError(t, err)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: p.store, Deliverer: send, Observer: obs})
	require.NoError(t, err)
	var rep delivery.Report
	require.NotPanics(t, func() { rep, err = d.RunOnce(t.Context()) })
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Delivered, "the record is not lost")
	assert.Zero(t, rep.ObserverPanics)
	var attempts int
	for _, s := range p.spans.Ended() {
		if s.Name() == "deliver" {
			attempts++
			assert.Empty(t, s.Links(), "no link from a malformed trace context")
		}
	}
	assert.Equal(t, 1, attempts)
}
