// Package bench measures outbound against the libraries users would
// otherwise pick, and against the physical limit of the machine, on
// identical work in one process. It is its own Go module so the peers never
// enter the library's go.mod.
//
// Four comparisons, each a list of [Contender]s doing the same work, and
// one measurement of the dispatcher alone:
//
//   - [PipelineContenders]: the success path of a resilience chain with no
//     I/O (classification, retry, circuit breaker, gate).
//   - [HTTPContenders]: POSTs to a loopback server at a given concurrency,
//     against a bare net/http client.
//   - [DurableContenders]: inserting and working no-op jobs on PostgreSQL,
//     our store and dispatcher against River.
//   - [RunDispatcher]: a delivery.Dispatcher draining a backlog of
//     no-op records from the in-memory store, in records/s and
//     allocations per record.
//   - [TokenContenders]: the hit path of a token cache against
//     golang.org/x/oauth2's ReuseTokenSource.
//   - [RunFleet] with [FleetContenders]: several dispatcher processes
//     (child processes: main or TestMain must call [RunFleetChild] when
//     [IsFleetChild]) on one PostgreSQL queue against a partner that
//     answers 429 above 20 req/s, counted per window at the partner
//     (go run ./cmd/compare -only fleet).
//   - [RunE2E] with [E2EContenders]: records enqueued on PostgreSQL and
//     delivered over HTTP to a loopback partner that answers 503 to 10% of
//     requests, holds 1% past the client's timeout and is down for 5s in
//     the middle; outbound against River workers using go-retryablehttp
//     and gobreaker, counted at the partner: requests, requests while
//     down, records lost (must be none) and duplicated
//     (go run ./cmd/compare -only e2e).
//   - [OpenChaos] and [Chaos.Run] with [ChaosCells]: records delivered
//     over HTTP by a dispatcher process (main or TestMain must call
//     [RunChaosChild] when [IsChaosChild]) from a PostgreSQL server of
//     the benchmark's own, while PostgreSQL restarts, the dispatcher's
//     backends are terminated, another client takes every connection
//     slot, or the process is SIGKILLed; counted at the partner as
//     records lost, duplicated and the time to recover (go run
//     ./cmd/compare -only chaos).
//   - [RunScale]: outbound's PostgreSQL store filled to 1,000, 100,000
//     and 1,000,000 pending records, over one destination and over 1,000:
//     the latency of Store.Claim at each depth and the plans of one claim
//     at the largest, then one dispatcher in a child process ([RunScaleDrain];
//     main or TestMain must call [RunScaleChild] when [IsScaleChild])
//     draining the largest backlog while its resident set size is sampled
//     (go run ./cmd/compare -only scale).
//   - [CountInstructions]: the pipeline and HTTP contenders again, each
//     alone in a child process under valgrind (main or TestMain must call
//     [RunInstructionsChild] when [IsInstructionsChild]), as
//     instructions per op: CPU per op that no other load on the machine
//     moves (go run ./cmd/compare -only instructions).
//
// The Benchmark functions in this package's tests run each contender under
// go test; cmd/compare runs them all and prints one markdown table:
//
//	cd internal/bench
//	go run ./cmd/compare            # full comparison (a few minutes)
//	go run ./cmd/compare -quick     # tiny run, as CI does
//	go test -bench . -benchmem -run XXX
//
// The durable comparison needs PostgreSQL (OUTBOUND_POSTGRES_URL); it works
// in fresh schemas that it drops afterwards.
package bench
