package otel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
)

// A request handler enqueues a record inside its span; the dispatcher's
// attempt, perhaps hours later, is a trace of its own linked to that span,
// and the partner joins the attempt's trace through the traceparent header.
// (Config.JoinTrace makes the attempt a child of the request's span.)
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

	request := span.SpanContext()
	var attempt sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.SpanKind() == trace.SpanKindConsumer {
			attempt = s
		}
	}
	fmt.Println(attempt.Name(), "linked to the request:", attempt.Links()[0].SpanContext.SpanID() == request.SpanID())
	fmt.Println("partner joined the attempt's trace:", (<-received)[3:35] == attempt.SpanContext().TraceID().String())
	// Output:
	// deliver erp linked to the request: true
	// partner joined the attempt's trace: true
}
