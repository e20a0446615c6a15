package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// enqueueBatch bounds how many records go into one Enqueue call.
const enqueueBatch = 500

// partners are the three fake partners and the plug in front of webhooks.
type partners struct {
	byName map[string]*deliverytest.Partner
	plug   *plug
	issuer *tokentest.Issuer

	mu                    sync.Mutex
	outageFrom, outageTil time.Time // when webhooks refused connections
}

func startPartners(cfg config, sc *script) (*partners, error) {
	ps := &partners{
		byName: make(map[string]*deliverytest.Partner, len(destinations)),
		issuer: tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour, ClientID: "quickstart", ClientSecret: "demo-secret"}),
	}
	th := &throttle{every: max(cfg.throttleEvery, 1), window: throttleWindow, bursts: cfg.throttles}
	for _, name := range destinations {
		pcfg := deliverytest.PartnerConfig{
			Rules:      sc.rules(),
			Idempotent: true, // like a careful partner: a resend is answered "already processed"
			Latency:    cfg.latency,
		}
		switch name {
		case ats:
			pcfg.Issuer = ps.issuer
		case crm:
			pcfg.Rules = append([]deliverytest.Rule{th.rule()}, pcfg.Rules...)
		}
		p, err := deliverytest.NewPartner(pcfg)
		if err != nil {
			ps.close()
			return nil, err
		}
		ps.byName[name] = p
	}
	var err error
	if ps.plug, err = newPlug(ps.byName[webhooks].DialContext); err != nil {
		ps.close()
		return nil, err
	}
	return ps, nil
}

// outage pulls webhooks' plug once it has answered cfg.outageAfter
// requests, and puts it back cfg.outage later (or when ctx ends).
func (ps *partners) outage(ctx context.Context, cfg config) error {
	if cfg.outage <= 0 {
		return nil
	}
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for ps.byName[webhooks].Stats().Requests < cfg.outageAfter {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	ps.plug.pull()
	ps.mu.Lock()
	ps.outageFrom = time.Now()
	ps.mu.Unlock()
	timer := time.NewTimer(cfg.outage)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	err := ps.plug.restore()
	ps.mu.Lock()
	ps.outageTil = time.Now()
	ps.mu.Unlock()
	return err
}

func (ps *partners) close() {
	if ps.plug != nil {
		ps.plug.close()
	}
	for _, p := range ps.byName {
		p.Close()
	}
}

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
