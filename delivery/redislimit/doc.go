// Package redislimit is a fleet-wide rate limit per destination kept in
// Redis, for stores that cannot hold the limit themselves (the stores of
// this repository keep it in Claim: see delivery.DestinationLimits.Rate).
// It is GCRA (delivery.GCRA) in one Lua script per take, on the Redis
// server's clock, so every process using the same Redis and prefix shares
// one limit whatever their own clocks say: at most Burst + Rate·t
// requests in any span t.
//
//	lim, err := redislimit.New(client, redislimit.Config{Prefix: "outbound:rate:"})
//	send := delivery.Chain(httpSend, lim.Middleware(redislimit.PerDestination(20, 5)))
//
// The middleware waits for the destination's next token, as
// delivery.WithRateLimit does for a limiter of one process.
package redislimit
