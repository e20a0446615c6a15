// Package deliverytest has fakes for testing code that sends with package
// delivery, in the spirit of net/http/httptest: a scriptable third-party
// partner on a real HTTP server, and Deliverers and an Observer that need no
// network.
//
// [Partner] is a "faux backend" for failure tests: an HTTP API that answers from
// a script of plain data (status sequences, per-path and per-key rules,
// delays, hangs, connection resets, an outage window with a failing health
// endpoint, flapping connections, "already processed" and "invalid record"
// bodies), records every request, keeps the books (which records it holds,
// which it processed twice) and measures the load (peak connections and
// requests in flight). It can serve an OAuth2 token endpoint with a
// tokencache/tokentest Issuer and then require its tokens, and it can
// require Standard Webhooks signatures (a delivery/webhook Verifier) and
// refuse replays, so a test proves its webhooks are signed correctly.
//
//	func TestSendCandidates(t *testing.T) {
//		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
//			Rules: []deliverytest.Rule{
//				{Key: "cand-2", Responses: deliverytest.Statuses(503)}, // fails once
//				{Key: "cand-3", Responses: []deliverytest.Response{deliverytest.InvalidRecord("no email")}, Repeat: true},
//			},
//		})
//		client, _ := partner.NewClient(httpclient.Config{MaxConnsPerHost: 4})
//		svc := mysvc.New(client, partner.URL) // the code under test
//		svc.SendAll(ctx)
//
//		if partner.Delivered() != 2 { ... }          // by Idempotency-Key, resends counted once
//		if partner.PeakConnections() > 4 { ... }
//		for _, r := range partner.Requests() { ... } // headers, bodies, answers
//	}
//
// With PartnerConfig.InMemory the partner runs over in-process pipes, so
// the real client transport and server run inside a testing/synctest
// bubble: a two-day outage or a 1m, 3m, 9m backoff passes in milliseconds.
//
// [Recorder] wraps any Deliverer and records each call, its outcome and the
// concurrency it saw (overall and per Key). [Script] answers each message ID
// with a scripted sequence of errors; [StatusError] makes the error an HTTP
// deliverer would return for a status. [Observer] keeps a Dispatcher's
// events and reports and counts them by action, class and cause.
//
// Everything here is safe for concurrent use and starts no goroutine that
// outlives Close.
package deliverytest
