package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// enqueueBatch bounds how many records go into one Enqueue call.
const enqueueBatch = 500

// run starts the fake partner, enqueues the backlog, delivers it, prints
// progress and a summary to out, and returns the summary. The error is
// non-nil if anything failed or any record is unaccounted for.
func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	start := time.Now()
	msgs := backlog(cfg.records)
	sc := newScript(msgs)
	issuer := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour, ClientID: "quickstart", ClientSecret: "demo-secret"})
	pcfg := deliverytest.PartnerConfig{
		Rules:      sc.rules(),
		Issuer:     issuer,
		Idempotent: true, // like a careful partner: a resend is answered "already processed"
		Latency:    cfg.latency,
	}
	if cfg.outage > 0 {
		pcfg.Outage = deliverytest.Outage{AfterRequests: cfg.outageAfter, For: cfg.outage}
	}
	partner, err := deliverytest.NewPartner(pcfg)
	if err != nil {
		return nil, err
	}
	defer partner.Close()

	store, storeName, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := closeStore(); err != nil {
			fmt.Fprintln(out, "quickstart: closing the outbox:", err)
		}
	}()

	fmt.Fprintf(out, "outbound quickstart: %d records for a fake partner at %s (outbox: %s)\n", cfg.records, partner.URL, storeName)
	fmt.Fprintln(out, "The partner will:")
	for _, line := range sc.describe(cfg) {
		fmt.Fprintln(out, "  -", line)
	}
	fmt.Fprintf(out, "Sending with %d workers over at most %d connections, retries after %v, %v, %v, ... (-backoff-unit %v)\n\n",
		cfg.concurrency, cfg.maxConns, cfg.unit, 3*cfg.unit, 9*cfg.unit, cfg.unit)

	for i := 0; i < len(msgs); i += enqueueBatch {
		if _, err := store.Enqueue(ctx, msgs[i:min(i+enqueueBatch, len(msgs))]...); err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
	}
	t := newTally()
	pl, err := newPipeline(cfg, partner, issuer, store, t)
	if err != nil {
		return nil, err
	}
	stop, err := pl.start(ctx)
	if err != nil {
		return nil, err
	}
	prog := &progress{w: out, mode: cfg.progress, total: cfg.records, start: start, partner: pl.partnerState}
	waitErr := waitSettled(ctx, cfg, store, prog, t)
	stopErr := stop()

	sum, err := collect(cfg, store, partner, issuer, sc, t)
	if err != nil {
		return nil, errors.Join(waitErr, stopErr, err)
	}
	sum.elapsed = time.Since(start)
	sum.print(out)
	return sum, errors.Join(waitErr, stopErr, sum.check())
}

// waitSettled shows progress until no record is pending or in flight, the
// timeout passes, or ctx ends.
func waitSettled(ctx context.Context, cfg config, store delivery.Store, prog *progress, t *tally) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := store.Stats(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		live := st.Count(delivery.StatePending) + st.Count(delivery.StateInFlight)
		if live == 0 {
			prog.show(st, t, true)
			return nil
		}
		prog.show(st, t, false)
		select {
		case <-ctx.Done():
			prog.show(st, t, true)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("gave up after -timeout %v with %d records not yet settled", cfg.timeout, live)
			}
			return fmt.Errorf("interrupted with %d records not yet settled", live)
		case <-tick.C:
		}
	}
}

// partnerState is the sender's view of the partner, for the progress line.
func (p *pipeline) partnerState() string {
	s := p.monitor.State().String()
	if b := p.breaker.State(); b != health.BreakerClosed {
		s += ", breaker " + b.String()
	}
	return s
}
