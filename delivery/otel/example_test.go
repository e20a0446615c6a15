package otel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
)

// A request handler enqueues a record inside its span; the dispatcher's
// attempt joins that trace, and so does the partner, through the
// traceparent header.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	received := make(chan string, 1)
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Get("Traceparent")
	}))
	defer partner.Close()

	deliveryotel.CaptureTraceContext()
	defer delivery.SetTraceContextSource(nil)
	store := memstore.New(memstore.Config{})

	// In the request handler: enqueue inside the request's span.
	ctx, span := tp.Tracer("shop").Start(context.Background(), "POST /orders")
	if _, err := store.Enqueue(ctx, delivery.Message{Destination: "erp", Payload: []byte(`{"order":7}`)}); err != nil {
		panic(err)
	}
	span.End()

	// In the dispatcher, perhaps another process.
	obs, err := deliveryotel.NewObserver(deliveryotel.Config{TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	defer obs.Close()
	client := &http.Client{Transport: &deliveryotel.Transport{Base: partner.Client().Transport, TracerProvider: tp}}
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(partner.URL, "application/json")})
	if err != nil {
		panic(err)
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send, Observer: obs})
	if err != nil {
		panic(err)
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		panic(err)
	}

	trace := span.SpanContext().TraceID()
	for _, s := range spans.Ended() {
		fmt.Println(s.Name(), s.SpanKind(), s.SpanContext().TraceID() == trace)
	}
	fmt.Println("partner joined the trace:", (<-received)[3:35] == trace.String())
	// Output:
	// POST /orders internal true
	// POST client true
	// deliver erp consumer true
	// partner joined the trace: true
}
