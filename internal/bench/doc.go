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
//   - [RunScale]: outbound's PostgreSQL store filled to 1,000, 100,000
//     and 1,000,000 pending records, over one destination and over 1,000:
//     the latency of Store.Claim at each depth and the plans of one claim
//     at the largest, then one dispatcher in a child process ([RunScaleDrain];
//     main or TestMain must call [RunScaleChild] when [IsScaleChild])
//     draining the largest backlog while its resident set size is sampled
//     (go run ./cmd/compare -only scale).
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
