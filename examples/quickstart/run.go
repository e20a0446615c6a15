package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// enqueueBatch bounds how many records go into one Enqueue call.
const enqueueBatch = 500

// run starts the fake partners, enqueues the backlog, delivers it, prints
// progress and a summary to out, and returns the summary. The error is
// non-nil if anything failed or any record is unaccounted for.
func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	start := time.Now()
	msgs := backlog(cfg.records)
	sc := newScript(msgs)
	ps, err := startPartners(cfg, sc)
	if err != nil {
		return nil, err
	}
	defer ps.close()

	store, storeName, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := closeStore(); err != nil {
			fmt.Fprintln(out, "quickstart: closing the outbox:", err)
		}
	}()

	fmt.Fprintf(out, "outbound quickstart: %d records for three fake partners (outbox: %s)\n", cfg.records, storeName)
	fmt.Fprintln(out, "The partners will:")
	for _, line := range sc.describe(cfg) {
		fmt.Fprintln(out, "  -", line)
	}
	fmt.Fprintf(out, "Sending with %d workers, at most %d connections per partner and %d requests in flight at crm,\n"+
		"retries after %v, %v, %v, ... (-backoff-unit %v)\n\n",
		cfg.concurrency, cfg.maxConns, crmMaxInFlight, cfg.unit, 3*cfg.unit, 9*cfg.unit, cfg.unit)

	for i := 0; i < len(msgs); i += enqueueBatch {
		if _, err := store.Enqueue(ctx, msgs[i:min(i+enqueueBatch, len(msgs))]...); err != nil {
			return nil, fmt.Errorf("enqueue: %w", err)
		}
	}
	t := newTally()
	pl, err := newPipeline(cfg, endpoints{ats: ps.byName[ats], crm: ps.byName[crm], webhooksAt: ps.plug.URL(), issuer: ps.issuer}, store, t)
	if err != nil {
		return nil, err
	}
	outageCtx, endOutage := context.WithCancel(ctx)
	outageDone := make(chan error, 1)
	go func() { outageDone <- ps.outage(outageCtx, cfg) }()
	stop, err := pl.start(ctx)
	if err != nil {
		endOutage()
		return nil, errors.Join(err, <-outageDone)
	}
	prog := &progress{w: out, mode: cfg.progress, total: cfg.records, start: start}
	waitErr := waitSettled(ctx, cfg, store, prog, t)
	stopErr := stop()
	endOutage()
	outageErr := <-outageDone
	end := time.Now()

	sum, err := collect(cfg, store, ps, sc, t, start, end)
	if err != nil {
		return nil, errors.Join(waitErr, stopErr, outageErr, err)
	}
	sum.elapsed = end.Sub(start)
	sum.print(out)
	return sum, errors.Join(waitErr, stopErr, outageErr, sum.check())
}

// waitSettled shows progress until no record is pending or in flight, the
// timeout passes, or ctx ends.
func waitSettled(ctx context.Context, cfg config, store delivery.Store, prog *progress, t *tally) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		sctx := context.WithoutCancel(ctx)
		st, err := store.Stats(sctx)
		if err != nil {
			return fmt.Errorf("stats: %w", err)
		}
		dests, err := store.Destinations(sctx)
		if err != nil {
			return fmt.Errorf("destinations: %w", err)
		}
		live := st.Count(delivery.StatePending) + st.Count(delivery.StateInFlight)
		if live == 0 {
			prog.show(st, dests, t, true)
			return nil
		}
		prog.show(st, dests, t, false)
		select {
		case <-ctx.Done():
			prog.show(st, dests, t, true)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("gave up after -timeout %v with %d records not yet settled", cfg.timeout, live)
			}
			return fmt.Errorf("interrupted with %d records not yet settled", live)
		case <-tick.C:
		}
	}
}
