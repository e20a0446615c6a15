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
//
// # Clock skew
//
// The callers' clocks never enter the limit: the script reads the time
// with Redis's TIME and is passed only the emission interval and the
// burst, so processes whose clocks disagree by any amount share the limit
// exactly. A caller's clock is used only to wait (Limiter.Wait sleeps the
// wait Redis returned, then asks again, and compares it with ctx's
// deadline): a process whose clock is off, or whose timers fire early or
// late, asks early and is told to wait again, or asks late and sends
// less, but never takes more than Burst + Rate·t in any span t. The tests
// hold three processes to that bound over 11 seconds, honest and with
// clocks (and waits) 200ms ahead and behind. What the limit does depend
// on is the Redis server's clock running at the right speed, and a single
// server (or a primary: a failover to a replica with a different clock
// may grant one burst early).
package redislimit
