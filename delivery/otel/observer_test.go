package otel_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
)

// captureTraceContext installs CaptureTraceContext for one test.
func captureTraceContext(t *testing.T) {
	deliveryotel.CaptureTraceContext()
	t.Cleanup(func() { delivery.SetTraceContextSource(nil) })
}

// enqueueInSpan enqueues msgs inside a span of tel, as a request handler
// would, and returns the span's context.
func enqueueInSpan(t *testing.T, tel *telemetry, store delivery.Store, msgs ...delivery.Message) trace.SpanContext {
	t.Helper()
	ctx, span := tel.tp.Tracer("test").Start(context.Background(), "POST /orders", trace.WithSpanKind(trace.SpanKindServer))
	_, err := store.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	span.End()
	return span.SpanContext()
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

func newObserver(t *testing.T, cfg deliveryotel.Config) *deliveryotel.Observer {
	t.Helper()
	o, err := deliveryotel.NewObserver(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	return o
}

// A record enqueued inside span S fails once with 503 and is then
// accepted: with JoinTrace, two attempt spans, each a child of S and linked to it, with
// their class and status, the first an error; each HTTP request is a
// client span under its attempt, and the partner received its traceparent.
func TestAttemptSpansJoinTheEnqueuingTrace(t *testing.T) {
	captureTraceContext(t)
	tel := newTelemetry(t)
	store := memstore.New(memstore.Config{})
	s := enqueueInSpan(t, tel, store, delivery.Message{ID: "order-7", Destination: "ats", Payload: []byte(`{}`), CorrelationID: "req-1"})
	rec, err := store.Get(context.Background(), "order-7")
	require.NoError(t, err)
	require.Equal(t, "00-"+s.TraceID().String()+"-"+s.SpanID().String()+"-01", rec.TraceParent, "the enqueuing span is stored")

	p := startPartner(t, 503, 201)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Policy: noWait,
		Destinations: map[string]delivery.DestinationConfig{"ats": {Deliverer: sender(t, p, tel)}},
		Observer:     newObserver(t, deliveryotel.Config{TracerProvider: tel.tp, MeterProvider: tel.mp, JoinTrace: true})})
	require.NoError(t, err)
	drain(t, d)

	attempts := tel.named("deliver ats")
	require.Len(t, attempts, 2)
	clients := tel.named("POST")
	require.Len(t, clients, 2)
	sent := p.traceparents()
	require.Len(t, sent, 2)
	for i, a := range attempts {
		assert.Equal(t, trace.SpanKindConsumer, a.SpanKind())
		assert.Equal(t, s.TraceID(), a.SpanContext().TraceID(), "attempt %d is in the enqueuing trace", i+1)
		assert.Equal(t, s.SpanID(), a.Parent().SpanID(), "a child of the enqueuing span")
		require.Len(t, a.Links(), 1)
		assert.True(t, a.Links()[0].SpanContext.Equal(s.WithRemote(true)), "and linked to it")
		at := attrs(a)
		assert.Equal(t, "ats", at["messaging.destination.name"].AsString())
		assert.Equal(t, "order-7", at["messaging.message.id"].AsString())
		assert.Equal(t, "req-1", at["messaging.message.conversation_id"].AsString())
		assert.Equal(t, int64(i+1), at[deliveryotel.AttemptKey].AsInt64())
		for k := range at {
			assert.NotContains(t, string(k), "payload")
			assert.NotContains(t, string(k), "header")
		}

		c := clients[i]
		assert.Equal(t, a.SpanContext().SpanID(), c.Parent().SpanID(), "the request is a client span under its attempt")
		assert.Equal(t, trace.SpanKindClient, c.SpanKind())
		assert.Equal(t, "00-"+a.SpanContext().TraceID().String()+"-"+c.SpanContext().SpanID().String()+"-01", sent[i],
			"the partner received the trace context of the request's span")
	}
	first, second := attrs(attempts[0]), attrs(attempts[1])
	assert.Equal(t, "ephemeral", first[deliveryotel.ClassKey].AsString())
	assert.Equal(t, int64(503), first["http.response.status_code"].AsInt64())
	assert.Equal(t, "retry", first[deliveryotel.ActionKey].AsString())
	assert.Equal(t, "http_503", first["error.type"].AsString())
	assert.NotEmpty(t, first[deliveryotel.NextAttemptKey].AsString())
	assert.Equal(t, codes.Error, attempts[0].Status().Code, "the failed attempt is an error")
	assert.Equal(t, "ok", second[deliveryotel.ClassKey].AsString())
	assert.Equal(t, int64(201), second["http.response.status_code"].AsInt64())
	assert.Equal(t, "delivered", second[deliveryotel.ActionKey].AsString())
	assert.Equal(t, codes.Unset, attempts[1].Status().Code)
	assert.Equal(t, codes.Error, clients[0].Status().Code, "a 503 answer is an error of the client span")
	assert.Equal(t, int64(503), attrs(clients[0])["http.response.status_code"].AsInt64())
}

// The record is enqueued in one process and delivered by another, each
// with its own tracer provider: the attempt still links to S. By default
// the attempt starts a trace of its own; with JoinTrace it is a child of S.
func TestAttemptLinksAcrossProcesses(t *testing.T) {
	for _, joinTrace := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "JoinTrace"}[joinTrace], func(t *testing.T) {
			captureTraceContext(t)
			enqueuer, deliverer := newTelemetry(t), newTelemetry(t)
			store := memstore.New(memstore.Config{})
			s := enqueueInSpan(t, enqueuer, store, delivery.Message{ID: "r", Payload: []byte(`{}`)})

			p := startPartner(t, 200)
			d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: sender(t, p, deliverer),
				Observer: newObserver(t, deliveryotel.Config{TracerProvider: deliverer.tp, MeterProvider: deliverer.mp, JoinTrace: joinTrace})})
			require.NoError(t, err)
			drain(t, d)

			attempts := deliverer.named("deliver")
			require.Len(t, attempts, 1)
			a := attempts[0]
			require.Len(t, a.Links(), 1)
			assert.True(t, a.Links()[0].SpanContext.Equal(s.WithRemote(true)), "the link points at the enqueuing span")
			if !joinTrace {
				assert.NotEqual(t, s.TraceID(), a.SpanContext().TraceID(), "a trace of its own")
				assert.False(t, a.Parent().IsValid(), "a root span")
			} else {
				assert.Equal(t, s.TraceID(), a.SpanContext().TraceID())
				assert.True(t, a.Parent().IsRemote(), "its parent was made by another process")
			}
			assert.Contains(t, p.traceparents()[0], a.SpanContext().TraceID().String())
			assert.Empty(t, enqueuer.named("deliver"), "the enqueuing process made no attempt span")
		})
	}
}

// corruptStore hands out claimed records with the malformed trace context
// of parents, by record id, as a store written by other code might hold.
type corruptStore struct {
	delivery.Store
	parents map[string]string
}

func (s corruptStore) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	recs, err := s.Store.Claim(ctx, limit, lease, skip...)
	for i := range recs {
		if p, ok := s.parents[recs[i].ID]; ok {
			recs[i].TraceParent, recs[i].TraceState = p, "=\x00,,"
		}
	}
	return recs, err
}

// A malformed traceparent in the enqueuing context or in the store is
// ignored: no panic, no lost record, an attempt span without a link.
func TestMalformedTraceContextIsIgnored(t *testing.T) {
	tel := newTelemetry(t)
	p := startPartner(t, 200)
	store := memstore.New(memstore.Config{})
	_, err := store.Enqueue(delivery.WithTraceContext(context.Background(), "00-zz-not-a-traceparent", "k=v"),
		delivery.Message{ID: "from-bad-ctx", Payload: []byte(`{}`)})
	require.NoError(t, err, "a malformed traceparent in ctx costs no record")
	parents := map[string]string{
		"garbage":   "garbage",
		"nul":       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x00",
		"zero":      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"long":      strings.Repeat("f", 4096),
		"bad-utf-8": "00-\xff\xfe",
	}
	for id := range parents {
		_, err := store.Enqueue(context.Background(), delivery.Message{ID: id, Payload: []byte(`{}`)})
		require.NoError(t, err)
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: corruptStore{store, parents}, Deliverer: sender(t, p, tel),
		Observer: newObserver(t, deliveryotel.Config{TracerProvider: tel.tp, MeterProvider: tel.mp})})
	require.NoError(t, err)
	var rep delivery.Report
	require.NotPanics(t, func() { rep, err = d.RunOnce(context.Background()) })
	require.NoError(t, err)
	assert.Zero(t, rep.ObserverPanics)
	assert.Equal(t, 1+len(parents), rep.Delivered, "no record lost")
	spans := tel.named("deliver")
	require.Len(t, spans, 1+len(parents))
	for _, s := range spans {
		assert.Empty(t, s.Links(), "no link from a malformed trace context")
	}
}

// countingStore counts Stats queries.
type countingStore struct {
	delivery.Store
	stats atomic.Int32
	fail  atomic.Bool
}

func (s *countingStore) Stats(ctx context.Context) (delivery.Stats, error) {
	s.stats.Add(1)
	if s.fail.Load() {
		return delivery.Stats{}, errors.New("database down")
	}
	return s.Store.Stats(ctx)
}

// The metrics read through a ManualReader match the observer's counts and
// the store's Stats; Close stops the Stats queries.
func TestMetricsMatchStoreAndAttempts(t *testing.T) {
	tel := newTelemetry(t)
	store := &countingStore{Store: memstore.New(memstore.Config{})}
	for _, id := range []string{"ok-1", "ok-2", "flaky", "bad", "later"} {
		_, err := store.Enqueue(context.Background(), delivery.Message{ID: id, Key: map[bool]string{true: "k"}[id == "later"], Payload: []byte(id)})
		require.NoError(t, err)
	}
	obs, err := deliveryotel.NewObserver(deliveryotel.Config{TracerProvider: tel.tp, MeterProvider: tel.mp, Store: store})
	require.NoError(t, err)
	p := startPartner(t, 200)
	p2 := startPartner(t, 400)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Policy: noWait, Observer: obs,
		Deliverer: delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			switch {
			case m.ID == "bad":
				return sender(t, p2, tel).Deliver(ctx, m)
			case m.ID == "flaky" && m.Attempt == 1:
				return sender(t, startPartner(t, 503), tel).Deliver(ctx, m)
			}
			return sender(t, p, tel).Deliver(ctx, m)
		})})
	require.NoError(t, err)
	drain(t, d)

	st, err := store.Stats(context.Background())
	require.NoError(t, err)
	before := store.stats.Load()
	got := tel.collect(t)
	assert.Equal(t, before+1, store.stats.Load(), "one Stats query per collection")

	sums := func(name string, key attribute.Key) map[string]int64 {
		out := map[string]int64{}
		require.Contains(t, got, name)
		switch data := got[name].Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range data.DataPoints {
				v, _ := dp.Attributes.Value(key)
				out[v.AsString()] += dp.Value
			}
		default:
			t.Fatalf("%s is a %T", name, data)
		}
		return out
	}
	assert.Equal(t, map[string]int64{"ok": 4, "ephemeral": 1, "permanent": 1}, sums("outbound.attempts", deliveryotel.ClassKey))
	assert.Equal(t, map[string]int64{"delivered": 4, "retry": 1, "dead_letter": 1}, sums("outbound.actions", deliveryotel.ActionKey))
	hist := got["outbound.attempt.duration"].Data.(metricdata.Histogram[float64])
	var n uint64
	for _, dp := range hist.DataPoints {
		n += dp.Count
	}
	assert.Equal(t, uint64(6), n, "one duration per attempt")
	assert.Equal(t, "s", got["outbound.attempt.duration"].Unit)

	records := sums("outbound.records", deliveryotel.StateKey)
	for _, s := range delivery.States {
		assert.Equal(t, st.Count(s), records[s.String()], "records %s match Store.Stats", s)
	}
	assert.Equal(t, int64(4), records["delivered"])
	assert.Equal(t, int64(1), records["dead"])
	require.Contains(t, got, "outbound.queue.oldest_pending.age")
	require.Contains(t, got, "outbound.queue.oldest_due.age")

	store.fail.Store(true)
	var rm metricdata.ResourceMetrics
	_ = tel.reader.Collect(context.Background(), &rm) // the error goes to the SDK's error handler; the attempt metrics still come
	assert.NotEmpty(t, rm.ScopeMetrics)

	require.NoError(t, obs.Close())
	require.NoError(t, obs.Close(), "closing twice is harmless")
	before = store.stats.Load()
	tel.collect(t)
	assert.Equal(t, before, store.stats.Load(), "no Stats query after Close")
}

func TestNewObserverRejectsBadConfig(t *testing.T) {
	var nilTP *sdktrace.TracerProvider
	var nilStore *memstore.Store
	_, err := deliveryotel.NewObserver(deliveryotel.Config{TracerProvider: nilTP, Store: nilStore, StatsTimeout: -1,
		DurationBuckets: []float64{1, 0.5}})
	require.Error(t, err)
	for _, want := range []string{"TracerProvider", "Store", "StatsTimeout", "DurationBuckets"} {
		assert.Contains(t, err.Error(), want)
	}
	o, err := deliveryotel.NewObserver(deliveryotel.Config{})
	require.NoError(t, err, "the zero Config uses the global providers")
	require.NoError(t, o.Close())
}

// TraceParentFrom writes what the W3C propagator would.
func TestTraceParentFrom(t *testing.T) {
	tel := newTelemetry(t)
	p, s := deliveryotel.TraceParentFrom(context.Background())
	assert.Empty(t, p+s, "no span")
	ctx, span := tel.tp.Tracer("test").Start(context.Background(), "x")
	defer span.End()
	p, _ = deliveryotel.TraceParentFrom(ctx)
	assert.True(t, delivery.ValidTraceParent(p))
	sc := deliveryotel.EnqueuedSpanContext(&delivery.Message{TraceParent: p})
	assert.True(t, sc.Equal(span.SpanContext().WithRemote(true)), "it reads back as the same span")
}

// EnqueuedSpanContext reads the stored traceparent as the stores accept
// it, keeps only the sampled flag, and drops a malformed tracestate alone.
func TestEnqueuedSpanContext(t *testing.T) {
	const p = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
	sc := deliveryotel.EnqueuedSpanContext(&delivery.Message{TraceParent: p, TraceState: "rojo=1,congo=2"})
	require.True(t, sc.IsValid())
	assert.True(t, sc.IsRemote())
	assert.True(t, sc.IsSampled())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
	assert.Equal(t, "00f067aa0ba902b7", sc.SpanID().String())
	assert.Equal(t, "rojo=1,congo=2", sc.TraceState().String())

	sc = deliveryotel.EnqueuedSpanContext(&delivery.Message{TraceParent: p, TraceState: "Bad State"})
	require.True(t, sc.IsValid(), "a malformed tracestate does not cost the link")
	assert.Empty(t, sc.TraceState().String())

	sc = deliveryotel.EnqueuedSpanContext(&delivery.Message{TraceParent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more"})
	require.True(t, sc.IsValid(), "a later version's traceparent")
	assert.False(t, sc.IsSampled())

	for _, bad := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", "garbage"} {
		assert.False(t, deliveryotel.EnqueuedSpanContext(&delivery.Message{TraceParent: bad}).IsValid(), "%q", bad)
	}
}

// A partner answering 429 with Retry-After: the attempt's span carries the
// wait the partner asked for, in seconds, and the time of the next
// attempt; the answer is an error of the span.
func TestAttemptSpanCarriesRetryAfter(t *testing.T) {
	tel := newTelemetry(t)
	store := memstore.New(memstore.Config{})
	_, err := store.Enqueue(context.Background(), delivery.Message{ID: "order-8", Destination: "ats", Payload: []byte(`{}`)})
	require.NoError(t, err)
	p := &partner{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(p.Close)
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Policy: noWait,
		Destinations: map[string]delivery.DestinationConfig{"ats": {Deliverer: sender(t, p, tel)}},
		Observer:     newObserver(t, deliveryotel.Config{TracerProvider: tel.tp, MeterProvider: tel.mp})})
	require.NoError(t, err)
	_, err = d.RunOnce(context.Background())
	require.NoError(t, err)

	attempts := tel.named("deliver ats")
	require.Len(t, attempts, 1, "the destination waits out the Retry-After: one attempt")
	at := attrs(attempts[0])
	assert.Equal(t, 7.0, at[deliveryotel.RetryAfterKey].AsFloat64())
	assert.Equal(t, int64(429), at["http.response.status_code"].AsInt64())
	assert.NotEmpty(t, at[deliveryotel.NextAttemptKey].AsString())
	assert.Equal(t, codes.Error, attempts[0].Status().Code)
}
