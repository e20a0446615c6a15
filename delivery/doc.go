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
//	client, _ := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
//	send, _ := httpdelivery.New(httpdelivery.Config{
//		Client: client,
//		Build:  httpdelivery.PostTo("https://partner.example/candidates", "application/json"),
//		Rules:  classify.HTTPRules{Statuses: map[int]classify.Class{409: classify.ClassDuplicate}},
//	})
//	d := delivery.Chain(send,
//		delivery.WithRateLimit(rate.NewLimiter(10, 1)),
//		delivery.WithTimeout(10*time.Second),
//	)
//	err := d.Deliver(ctx, &delivery.Message{ID: "cand-42", Payload: body})
//	switch classify.Of(err) { ... }
//
// Every error a Deliverer returns has a class (see package classify).
//
// # Durable delivery
//
// A [Store] keeps [Record]s (a message plus its state, attempts, next-attempt
// time and latest attempt) and leases them to workers; package memstore keeps
// them in memory, package postgres in a PostgreSQL outbox shared by many
// processes, and package storetest checks any implementation. A [Dispatcher]
// drains a Store through a Deliverer: bounded per run (MaxPerRun), with a
// fixed number of workers (Concurrency; 1 is strictly sequential), records of
// one Key at one destination in order, each outcome written back as soon as
// it is known, and every class handled as its meaning demands: Ephemeral
// retried on the retry.Policy schedule (1m, 3m, 9m, ... by default),
// Permanent dead-lettered at once, Discard dropped with its reason,
// Duplicate counted as delivered, Unavailable held without spending an
// attempt.
//
// # Destinations
//
// Every record belongs to one destination (Message.Destination; empty is
// the default one), and a destination is durable state in the store,
// shared by every process on it: whether it is paused (until when, and
// why), disabled, and its MaxInFlight, with live figures
// (Store.Destinations). One Dispatcher serves many destinations, each with
// its own pipeline (DispatcherConfig.Destinations, or Resolve for thousands
// of them), and a slow or dead partner costs the others nothing:
//
//   - Claims are fair: one record per destination per round, the one
//     served least recently first, so a 100k backlog for one partner never
//     delays another's ten records; a destination over its MaxInFlight
//     (counted over every lease in the store, so it holds for the fleet) or
//     holding its share of a dispatcher's workers is not claimed.
//
//   - Backpressure is a destination's verdict, not a record's: a 429 or a
//     503 with Retry-After pauses the destination until then for every
//     process; so do a closed gate, an open breaker, and failures that say
//     nothing about the record (connection refused, DNS, a rejected
//     certificate, a refusing proxy: see DestinationFault), with a probe
//     interval that grows (PauseBackoff). The records wait unclaimed and
//     spend no attempt; when the pause ends one record across the fleet
//     probes the partner, and its healthy answer makes all of them due at
//     once. A pause or disable the store fails to write (reported as the
//     event's StoreErr) still holds this process: it claims none of the
//     destination's records until the pause ends, then one record probes,
//     and further faults hold it longer, by PauseBackoff, as the store
//     would have.
//
//   - A 410 Gone disables the destination until a person resumes it
//     (Store.ResumeDestination), and so does a pause longer than
//     DisableAfter (5 days), so a dead endpoint cannot hold records unseen.
//
//   - Ordering and idempotency are per destination: records with the same
//     Key at the same destination go in order, and one event fanned out to
//     three partners under one Key and one IdempotencyKey is three records
//     that never wait for each other.
//
//     d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
//     Store:       store,
//     Concurrency: 16,
//     Destinations: map[string]delivery.DestinationConfig{
//     "ats": {Deliverer: atsSend, Gate: atsHealth},
//     "crm": {Deliverer: crmSend, MaxInFlight: 4}, // across every instance
//     },
//     Resolve: webhookEndpoint, // one destination per customer endpoint
//     })
//
// Every pause, resume and disable reaches the Observer (DestinationObserver:
// a log line, a metric) with its cause.
//
//	store := memstore.New(memstore.Config{})
//	_, err := store.Enqueue(ctx, delivery.Message{Destination: "ats", Key: "candidate-42", Payload: body})
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
//		Store:       store,
//		Deliverer:   send,
//		Concurrency: 8,
//		Gate:        partnerHealth,
//	})
//	err = d.Run(ctx) // until ctx ends; woken by inserts, never by its own writes
//
// # Fleet-wide limits
//
//   - DestinationConfig.Rate and Burst limit a destination's records per
//     second across every process on the store: Claim runs GCRA (see
//     GCRA) on one timestamp per destination kept in the store, on the
//     store's clock, so four instances configured with Rate 20 send 20 a
//     second between them, never more than Burst + 20·t in any span t.
//     NextDue reports when the next token is due, so idle dispatchers
//     wake for it.
//
//   - The Rate is a ceiling the Dispatcher learns under: a partner's 429s
//     lower it for the fleet (halving while most requests are refused,
//     20% steps while more than a fifth are, then 5% steps), a
//     RateLimit-Policy header (ReportRateLimit,
//     classify.ParseRateLimit; HTTPDeliverer reports it) lowers it to what
//     the partner publishes, a remaining quota (X-RateLimit-Remaining r
//     with X-RateLimit-Reset t, or RateLimit r and t) lowers it to r/t when
//     that is under it, and a quota spent (r = 0) pauses the destination
//     until the reset (capped by MaxPause); it climbs back after
//     RateRecovery. A 429 then costs the record no attempt and pauses
//     nothing.
//
//   - DestinationConfig.AdaptiveConcurrency makes MaxInFlight a ceiling:
//     the store's MaxInFlight (the leases of every process) is adapted by
//     AIMD on latency and overload, so it settles near what the partner
//     serves at once.
//
//   - RetryBudget (off by default) keeps retries to a share of the
//     requests a destination gets (20% over 10s, plus a floor of 10): after
//     an outage, due retries beyond it wait, spending no attempt, instead
//     of becoming the load that keeps the partner down.
//
// For example, in DispatcherConfig.Destinations:
//
//	"crm": {Deliverer: crmSend, Rate: 20, Burst: 5, RetryBudget: &delivery.RetryBudget{}},
//
// # Layout
//
// This package is the hub: what composes the others (Message, Deliverer,
// Middleware and Chain with the middleware that adapts the leaf packages,
// the Store contract and Record, the Dispatcher, Gate and Observer). Each
// other concern is a package of its own, and new features land in theirs:
//
//	delivery               the hub (above); destinations, their pauses and
//	                       limits are part of the Store contract and the
//	                       Dispatcher, and so are fleet-wide rate limits
//	                       (gcra.go), the rate learned from partners
//	                       (ratelearner.go, ratereport.go), adaptive
//	                       concurrency (concurrencylearner.go) and retry
//	                       budgets (retrybudget.go)
//	delivery/httpclient    the shared *http.Client: connection bounds,
//	                       timeouts, redirect policy, the dial guard; the
//	                       caching DNS resolver joins it (a leaf: no delivery)
//	delivery/httpdelivery  the HTTP Deliverer: request building, headers,
//	                       bounded reads, classification
//	delivery/logging       the log/slog Observer and correlation-id handler
//	delivery/failures      in-memory failure counts and surges
//	delivery/webhook       Standard Webhooks signing and verification (a leaf)
//	delivery/resilient     a RoundTripper and *http.Client for SDKs and
//	                       generated clients (a leaf: no delivery)
//	delivery/failover      a Deliverer over prioritised channels
//	delivery/memstore      the in-memory Store (and test transactions)
//	delivery/storetest     the Store conformance suite
//	delivery/deliverytest  fakes for users' tests
//	delivery/admin         the operators' http.Handler: JSON API and page
//	                       (standard library only; an adapter, so it
//	                       imports delivery)
//
// Adapters with a heavy dependency are modules of their own, so importing
// delivery never pulls them in: delivery/postgres (pgx), delivery/sqlite
// (modernc.org/sqlite), delivery/metrics (Prometheus), delivery/otel
// (OpenTelemetry: it reaches this package through the
// SetTraceContextSource hook and the AttemptTracer interface), and the
// operators' command delivery/cmd/outbound (it opens both SQL stores).
package delivery
