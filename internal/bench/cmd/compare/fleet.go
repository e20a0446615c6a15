package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/outbound-go/outbound/internal/bench"
)

// fleet runs each fleet contender's processes against the rate-limited
// partner and prints what the partner saw.
func fleet(ctx context.Context, o options) error {
	cfg := o.fleet
	fmt.Fprintf(o.out, "\n### 6. Fleet-wide rate limit: %d processes, one PostgreSQL queue, a partner allowing %.0f req/s\n\n", cfg.Processes, cfg.PartnerRate)
	if o.pg == "" {
		if os.Getenv("CI") == "true" {
			return errors.New("compare: OUTBOUND_POSTGRES_URL is not set but CI=true")
		}
		fmt.Fprintf(o.out, "Skipped: set OUTBOUND_POSTGRES_URL (or -pg) to a PostgreSQL database.\n")
		return nil
	}
	cfg.PG = o.pg
	cs := bench.FleetContenders(cfg.PartnerRate)
	t := table{head: []string{"contender", fmt.Sprintf("max req/s in a %v window after the first", cfg.Window), "average req/s", "answered 429", "accepted", "delivered"}}
	var series []string
	var errs []error
	for _, c := range cs {
		fmt.Fprintf(o.progress, "fleet: %s (%v) ...\n", c.Name, cfg.Duration)
		r, err := bench.RunFleet(ctx, cfg, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("fleet: %s: %w", c.Name, err))
			t.add(c.Name, "failed", "", "", "", "")
			continue
		}
		t.add(c.Name, fmt.Sprintf("%.1f", r.MaxAfterFirst()), fmt.Sprintf("%.1f", r.Average()),
			fmt.Sprintf("%.2f%% (%d of %d)", 100*r.RefusedShare(), r.Refused, r.Requests), fmt.Sprint(r.Accepted), fmt.Sprint(r.Delivered))
		rates := make([]string, len(r.Windows))
		for i := range r.Windows {
			rates[i] = fmt.Sprintf("%.1f", r.WindowRate(i))
			if n := r.RefusedWindows[i]; n > 0 {
				rates[i] += fmt.Sprintf(" (%d×429)", n)
			}
		}
		series = append(series, fmt.Sprintf("- %s: %s", c.Name, strings.Join(rates, ", ")))
	}
	t.write(o.out)
	fmt.Fprintf(o.out, "\nEach row: %d child processes of this command, %d workers each, work one queue in a fresh PostgreSQL schema for %v; the partner (loopback, a token bucket of %.0f/s holding one second's worth) answers 429 above its rate. Requests are counted at the partner, those while the processes stop excluded; accepted includes them, delivered is what the queue holds as done. outbound: `DestinationConfig{Rate: r, Burst: 1}`, one limit for the fleet kept in the store (a 429 lowers it). River (no limit across processes in its open-source version): a `rate.Limiter` of r/%d in each process's worker, a 429 snoozed for 1s (`JobSnooze`, no attempt spent). Targets for outbound at the partner's rate: no window above 21 req/s after the first, an average of at least 18 req/s, under 1%% answered 429.\n\nRequests per second in each %v window (and the requests answered 429 in it):\n\n%s\n",
		cfg.Processes, bench.FleetWorkers, cfg.Duration, cfg.PartnerRate, cfg.Processes, cfg.Window, strings.Join(series, "\n"))
	return errors.Join(errs...)
}
