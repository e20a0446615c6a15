// Package httpdelivery is the delivery.Deliverer for HTTP partners: each
// message becomes one request through a shared client, with an
// Idempotency-Key and a correlation header, a bounded read of the
// response, the body always drained and closed so the connection is
// reused, and the outcome classified with classify.HTTPRules.
//
//	send, err := httpdelivery.New(httpdelivery.Config{
//		Client: client, // from httpclient.New
//		Build:  httpdelivery.PostTo("https://partner.example/candidates", "application/json"),
//		Rules:  classify.HTTPRules{Statuses: map[int]classify.Class{409: classify.ClassDuplicate}},
//	})
//	if err != nil {
//		return err
//	}
//	err = send.Deliver(ctx, &delivery.Message{ID: "cand-42", Payload: body})
//	switch classify.Of(err) { ... }
//
// Every error Deliver returns has a class and a redacted text (it is
// stored on records and logged).
package httpdelivery
