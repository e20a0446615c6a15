// Package delivery sends messages to third-party HTTP APIs without losing
// them and without hurting the partner.
//
// It is the hub of the outbound library. A [Deliverer] sends one
// [Message]; [Middleware] adds behaviour around it (timeouts, rate limits,
// retries, health gates) and [Chain] composes them. [HTTPDeliverer] is the
// Deliverer for HTTP partners: one shared client with bounded connections
// per host, Idempotency-Key and correlation headers, bounded body reads and
// outcome classification with [classify.HTTPRules].
//
//	client, _ := delivery.NewClient(delivery.ClientConfig{MaxConnsPerHost: 8})
//	send, _ := delivery.NewHTTPDeliverer(delivery.HTTPConfig{
//		Client: client,
//		Build:  delivery.PostTo("https://partner.example/candidates", "application/json"),
//		Rules:  classify.HTTPRules{Statuses: map[int]classify.Class{409: classify.ClassDuplicate}},
//	})
//	d := delivery.Chain(send,
//		delivery.WithRateLimit(rate.NewLimiter(10, 1)),
//		delivery.WithTimeout(10*time.Second),
//	)
//	err := d.Deliver(ctx, &delivery.Message{ID: "cand-42", Payload: body})
//	switch classify.Of(err) { ... }
//
// Every error a Deliverer returns has a class (see package classify); the
// durable dispatcher in this package acts on it.
package delivery
