// Package health answers one question for a sender: is this destination
// up? It looks actively, with probes ([Monitor]), and passively, with a
// circuit breaker on real traffic ([CircuitBreaker], one per destination in
// [Breakers]), and combines the two in a [Gate] whose Allow says whether to
// send now or, with an error of class classify.ClassUnavailable and a
// Retry-After hint, when to look again. Work refused by a gate waits; it
// does not fail, so a two-day partner outage leaves a backlog, not a pile
// of dead letters.
//
//	checker, _ := health.NewHTTPChecker(health.HTTPCheckerConfig{
//		URL:      "https://partner.example/health",
//		Validate: health.JSONField("status", "ok"), // "return 200" endpoints lie
//	})
//	monitor, _ := health.NewMonitor(health.MonitorConfig{Name: "partner", Checker: checker})
//	monitor.Start(ctx)
//	defer monitor.Stop()
//	breaker, _ := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner"})
//	gate, _ := health.NewGate(health.GateConfig{Monitor: monitor, Breaker: breaker})
//
//	if err := gate.Allow(ctx); err != nil {
//		wait, _ := classify.RetryAfter(err) // reschedule; no attempt used
//	}
//
// # States and hysteresis
//
// A monitor starts in [StateUnknown]: it has never seen the destination,
// which is not the same as up. The first Allow without a fresh result
// probes once, on demand, bounded by the caller's context and the
// monitor's Timeout, and that first result decides the state outright, so
// a service booting against a dead partner does not send several failing
// batches first. From then on FailureThreshold failed probes in a row take
// the destination down and SuccessThreshold successes bring it back, so a
// flapping destination does not toggle with every probe.
//
// # Breakers
//
// A breaker counts outcomes by class: only ClassEphemeral failures (5xx,
// 429, timeouts, resets) count against the destination. A 400 is the
// request's fault and never opens a breaker; a caller's own cancellation
// is ignored. A breaker trips on consecutive failures or on a failure
// ratio over a minimum number of calls, stays open for OpenTimeout, then
// lets a bounded number of probe calls through.
//
// # Startup and reporting
//
// [Startup] runs every dependency's check concurrently with a timeout and
// returns one error naming every failure, so a service can refuse to
// start. [Endpoint] serves the monitors' states as
// "application/health+json". Error text shown in reports and gate errors
// goes through [Redact]: no query strings, credentials or headers.
//
// Everything here uses only time.Now, timers and contexts, so it can be
// tested with testing/synctest, and no goroutine outlives [Monitor.Stop].
// The package never imports the delivery package.
package health
