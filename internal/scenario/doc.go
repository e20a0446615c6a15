// Package scenario replays the incidents of the field reports behind this
// library (the README lists them with their lessons) as tests: one test per
// incident, named after it, each quoting the lesson and asserting that the
// library survives the incident.
//
// The package has no code of its own; its tests are the point. They run in
// `go test work` and `go test -race work`: incidents about connections,
// resets and tokens go through the real HTTP stack against a
// deliverytest.Partner, and incidents about time (a 1m, 3m, 9m backoff, a
// two-day outage) run inside testing/synctest bubbles, over the partner's
// in-memory network, so days pass in milliseconds.
//
//	TestBacklogFanOutBoundsSockets           socket exhaustion from an unbounded backlog fan-out
//	TestRunCapAndRateLimitSpareThePartner    a per-run cap and a rate limit, measured at the partner
//	TestOneTokenPerExpiryAcrossDispatchers   one token per expiry window across four dispatchers
//	TestTwoDayOutageFailsNothing             a two-day outage fails nothing and costs no attempts
//	TestOwnWritesNeverWakeTheDispatcher      the dispatcher's own writes never wake it
//	TestSpecialErrorCasesEachHandledByClass  invalid records discarded, duplicates delivered, the rest retried
//	TestRetriesAfter1m3m9m                   retries exactly 1m, 3m and 9m after failures
//	TestPermanentErrorDeadLettersAtOnce      a permanent error is dead-lettered at once
//	TestGroupsStayInOrderUnderRetries        per-group order under concurrency and retries
//	TestCrashResendsOnlyWhatWasInFlight      a crash at record 999 re-sends only what was in flight
//	TestEphemeralErrorsCountedNotAlerted     ephemeral errors counted by cause; only a change of rate alerts
//	TestFlappingConnectionIsBounded          a breaker and hysteresis bound the damage of a flapping link
//	TestOneTraceFromRequestToEveryAttempt    one trace from the enqueuing request to every attempt and the partner
package scenario
