// Command webhooksigning sends signed webhooks through the outbound
// pipeline and verifies them in a receiver, as the Standard Webhooks
// specification describes (delivery/webhook).
//
//	go run ./examples/webhooksigning
//
// The sender enqueues events in an outbox (memstore; delivery/postgres in a
// service), and a Dispatcher delivers them with an HTTPDeliverer whose
// client signs every attempt: webhook-id is the event's idempotency key,
// the same on every retry; webhook-timestamp and webhook-signature are made
// afresh for each attempt. It signs with two keys, a new Ed25519 key and
// the old HMAC secret it is retiring, so receivers that trust either
// accept during the rotation.
//
// The receiver, on loopback, trusts the new public key only. It verifies
// every request, answers one event's first attempt 503 so that it is
// retried, processes each webhook-id once, and refuses a forged webhook. It
// finishes in about a second (a retry must fall in a later second to get a
// new timestamp) and prints what happened.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, os.Stdout, options{events: 5, retryAfter: 1100 * time.Millisecond}); err != nil {
		fmt.Fprintln(os.Stderr, "webhooksigning:", err)
		os.Exit(1)
	}
}

// options shape a run.
type options struct {
	// events is how many events are sent.
	events int
	// retryAfter is the wait before a failed attempt is retried: more than
	// a second, so that the retry's webhook-timestamp differs.
	retryAfter time.Duration
}

// summary is what a run found.
type summary struct {
	enqueued, processed, attempts int
	retried                       string    // the event answered 503 once
	retriedAttempts               []attempt // its attempts, as received
	forgedStatus, replayStatus    int       // the receiver's answers to the forgery and the replay
	forgedReason                  string    // why the forgery was refused
	replayProcessed               bool      // whether the replay was processed again
	rejected                      int       // requests refused for their signature
	elapsed                       time.Duration
}

func run(ctx context.Context, out io.Writer, o options) (*summary, error) {
	start := time.Now()
	keys, err := newKeys()
	if err != nil {
		return nil, err
	}
	rcv, err := startReceiver(keys.receiverKeys, fmt.Sprintf("evt-%03d", (o.events+1)/2))
	if err != nil {
		return nil, err
	}
	defer rcv.close()
	fmt.Fprintf(out, "receiver at %s trusts the new v1a public key only\n", rcv.url)
	fmt.Fprintf(out, "sender signs with %s: the new key and the old one it is retiring\n", keys.signer)

	s, err := deliverAll(ctx, keys.signer, rcv.url+"/hooks", o)
	if err != nil {
		return nil, err
	}
	s.retried = rcv.failOnce
	s.processed, s.attempts, s.retriedAttempts = rcv.books(s.retried)
	fmt.Fprintf(out, "%d events enqueued; the receiver processed %d, in %d attempts\n", s.enqueued, s.processed, s.attempts)
	if len(s.retriedAttempts) == 2 {
		a, b := s.retriedAttempts[0], s.retriedAttempts[1]
		fmt.Fprintf(out, "%s was answered 503 and retried: webhook-id %s both times, webhook-timestamp %s then %s, signature changed: %v\n",
			s.retried, a.id, a.timestamp, b.timestamp, a.signature != b.signature)
	}

	forged, err := rcv.forge(ctx)
	if err != nil {
		return nil, err
	}
	s.forgedStatus, s.forgedReason = forged.status, forged.reason
	fmt.Fprintf(out, "a forged copy (body changed by one byte) was answered %d: %s\n", forged.status, forged.reason)
	replay, err := rcv.replay(ctx)
	if err != nil {
		return nil, err
	}
	s.replayStatus, s.replayProcessed = replay.status, replay.processed
	fmt.Fprintf(out, "a replay of a delivered webhook verified (within the tolerance) and was answered %d, processed again: %v (webhook-id already seen)\n",
		replay.status, replay.processed)

	s.rejected = rcv.rejectedCount()
	s.elapsed = time.Since(start)
	if err := s.check(o); err != nil {
		fmt.Fprintln(out, "FAILED:", err)
		return s, err
	}
	fmt.Fprintf(out, "OK: every event processed once, every attempt signed afresh, the forgery refused (%v)\n", s.elapsed.Round(10*time.Millisecond))
	return s, nil
}

// check says what in s falls short of what the example shows.
func (s *summary) check(o options) error {
	switch {
	case s.processed != o.events:
		return fmt.Errorf("the receiver processed %d of %d events", s.processed, o.events)
	case len(s.retriedAttempts) != 2:
		return fmt.Errorf("%s reached the receiver %d times, not 2", s.retried, len(s.retriedAttempts))
	case s.retriedAttempts[0].id != s.retriedAttempts[1].id:
		return fmt.Errorf("the retry of %s changed its webhook-id", s.retried)
	case s.retriedAttempts[0].timestamp == s.retriedAttempts[1].timestamp:
		return fmt.Errorf("the retry of %s kept its webhook-timestamp", s.retried)
	case s.forgedStatus != 401:
		return fmt.Errorf("the forgery was answered %d", s.forgedStatus)
	case s.replayProcessed:
		return fmt.Errorf("the replay was processed again")
	case s.rejected != 1:
		return fmt.Errorf("the receiver refused %d requests for their signature, not 1 (the forgery)", s.rejected)
	}
	return nil
}
