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
//	TestSeed000BacklogFanOut         socket exhaustion from an unbounded backlog fan-out
//	TestSeed000Hammering             a per-run cap and a rate limit, measured at the partner
//	TestSeed000TokenQuota            one token per expiry window across four dispatchers
//	TestSeed000TwoDayOutage          a two-day outage fails nothing and costs no attempts
//	TestSeed000SelfRetriggering      the dispatcher's own writes never wake it
//	TestSeed000SpecialErrorCases     invalid records discarded, duplicates delivered, the rest retried
//	TestSeed001Backoff3x             retries exactly 1m, 3m and 9m after failures
//	TestSeed001FailEarly             a permanent error is dead-lettered at once
//	TestSeed002FIFOGroups            per-group order under concurrency and retries
//	TestSeed003AlwaysMakeProgress    a crash at record 999 re-sends only what was in flight
//	TestSeed003TrackFailures         ephemeral errors counted by cause; only a change of rate alerts
//	TestSeed004FlappingConnection    a breaker and hysteresis bound the damage of a flapping link
package scenario
