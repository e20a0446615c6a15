package main

import (
	"context"
	"sync"
	"time"

	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

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
