// Package failover is a delivery.Deliverer over prioritised channels: a
// primary and its alternates (a second region, a backup endpoint, another
// provider), each a Deliverer with its own health gate or breaker. It
// prefers the primary, falls back when a channel cannot carry traffic,
// and does not flap back to a primary that only looks up for a moment.
//
//	set, err := failover.New(failover.Config{
//		Name: "address-validation",
//		Channels: []failover.Channel{
//			{Name: "primary", Deliverer: primary, Gate: primaryHealth, Breaker: primaryBreaker},
//			{Name: "backup", Deliverer: backup, Breaker: backupBreaker},
//		},
//		ReturnHold: time.Minute,
//		OnSwitch:   func(s failover.Switch) { log.Printf("%s: %s -> %s (%s)", s.Set, s.From, s.To, s.Cause) },
//	})
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: set})
//
// # When it moves
//
// A message goes to the active channel (the primary at first). It moves on
// to the next channel, within the same Deliver, only when the outcome says
// the channel is unusable (see [ChannelUnusable]): the channel's gate or
// breaker refused, or the request never reached the partner (DNS, refused
// or reset connections, a failed dial, a TLS handshake that failed). It
// never moves on an answer: a 400 is the record's fault and is returned
// as is, and 5xx answers are left to the channel's breaker, which opens
// after its threshold and so moves traffic within one breaker or health
// interval. An unusable outcome on the active channel also makes the next
// channel active: later messages go there first.
//
// # When it returns (hysteresis)
//
// A channel that was left is checked again (its breaker peeked and its
// gate asked) at most once per CheckInterval, on the Deliver path; the
// package starts no goroutine. Traffic returns to it only after
// ReturnChecks checks in a row passed and ReturnHold has passed since the
// first of them; one failed check starts the count over. A channel with
// neither gate nor breaker counts as passing every check, so returning to
// it is a probe with real traffic once per ReturnHold; give channels a
// gate or breaker. While it is not active, a left channel is still tried
// as the last resort, after every other channel proved unusable, without
// becoming active again.
//
// Bound on switches: every return to a channel needs ReturnHold of passed
// checks begun after the channel was last left, so the set returns to any
// one channel at most once per ReturnHold, and leaves it at most once
// more than it returns to it. With two channels, a flapping primary
// causes at most 2⌊T/ReturnHold⌋+1 switches in a period T that starts on
// the primary (2⌊T/ReturnHold⌋+2 in any period T): with the default 30s
// hold, at most 3 in a minute, however fast it flaps. With n channels
// each of the n-1 higher ones is returned to at most ⌊T/ReturnHold⌋+1
// times in any period T.
//
// # Which channel was used
//
// Every error Deliver returns names its channel: a [*ChannelError]
// ("failover: channel "primary": ...") of the channel's class, or an
// [*ExhaustedError] listing every channel's failure when none could take
// the message (Unavailable when none was even tried, so a dispatcher
// defers the record without spending an attempt; Ephemeral otherwise).
// A dispatcher stores that text on the record and hands the error to its
// Observer, and [ChannelOf] reads the name back. A success has no error to
// carry a name, so Config.OnSend reports every send with its channel and
// outcome, and Config.OnSwitch every switch with its cause, for metrics
// and logs: package delivery/metrics counts both when its Collector's
// FailoverSwitched and FailoverSent are passed as the hooks. Under a
// Dispatcher, every attempt's delivery.Attempt.Channel, kept in the
// record's history, names the channel that answered it, successes
// included (see delivery.ReportChannel).
//
// A Failover is just a Deliverer: a destination's Deliverer can be a
// failover set, and its channels can be any Deliverers, middleware
// chains included. Put per-channel timeouts on the channels
// (delivery.WithTimeout), so a hanging primary leaves the attempt time
// for the next channel. Every channel receives the same message, with
// the same idempotency key.
package failover
