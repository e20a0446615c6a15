// Package otel traces and measures outbound delivery with OpenTelemetry,
// so that one trace runs from the request that enqueued a record to every
// attempt to deliver it, and on into the partner's own tracing. It is a
// module of its own (go.opentelemetry.io/otel is its dependency), so
// programs that import package delivery alone never import OpenTelemetry.
//
// Three pieces, each optional:
//
//   - CaptureTraceContext, in the processes that enqueue: every Store keeps
//     the W3C trace context of the span in the enqueuing context with the
//     record (delivery.Message.TraceParent and TraceState).
//   - Observer, on the dispatcher: a span per attempt, the root of a
//     trace of its own with a link to the enqueuing span (with
//     Config.JoinTrace, a child of the enqueuing span, still linked), and the metrics (attempts, attempt
//     duration, actions, records by state, oldest pending age).
//   - Transport, in the deliverer's HTTP client: a client span per request,
//     whose trace context goes into the request headers (traceparent).
//
// The ten lines a service adds:
//
//	deliveryotel.CaptureTraceContext() // enqueues keep the request's trace
//	obs, err := deliveryotel.NewObserver(deliveryotel.Config{Store: store}) // global providers
//	if err != nil { ... }
//	defer obs.Close()
//	client := &http.Client{Transport: &deliveryotel.Transport{Base: http.DefaultTransport}}
//	send, _ := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(url, "application/json")})
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
//		Store: store, Deliverer: send,
//		Observer: delivery.Observers(logs, obs), // with other observers, or alone
//	})
//
// The package name is otel; import it under another name
// (deliveryotel) next to go.opentelemetry.io/otel.
//
// Attempt spans and metrics follow the OpenTelemetry semantic conventions
// for messaging (messaging.destination.name, messaging.message.id,
// messaging.message.conversation_id for the correlation id) and HTTP
// client spans (http.request.method, http.response.status_code,
// server.address, url.full, error.type) where they fit, and add
// outbound.* attributes for the rest (attempt, class, action,
// retry_after, next_attempt_at, state). They never carry a payload, a
// header value or an error text, and url.full is redacted.
//
// W3C baggage is not kept with the record, by design. Baggage is
// request-scoped key-value data that services add freely (tenant ids,
// user ids, feature flags), and a record outlives its request by minutes
// or days and is read by operators and other processes: storing it would
// copy whatever a middleware put there into the outbox, unreviewed. Put
// what the partner needs into the message (Headers, Payload) instead,
// where it is explicit and bounded. Transport still propagates the
// baggage of the dispatcher's own context when its Propagator includes
// propagation.Baggage.
//
// Without this package the dispatcher does no tracing work: a Dispatcher
// whose Observer is not a delivery.AttemptTracer allocates per record
// exactly what it did before trace context existed, and a record
// enqueued outside any span stores nothing.
package otel
