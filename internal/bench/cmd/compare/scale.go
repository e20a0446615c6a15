package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/bench"
)

// scale fills outbound's PostgreSQL store to each depth, prints the claim
// latencies there and the plan of one claim at the largest depth, then the
// memory of one dispatcher process draining the largest backlog.
func scale(ctx context.Context, o options) error {
	cfg := o.scale
	fmt.Fprintf(o.out, "\n### 7. Scale: claim latency by backlog depth, and one dispatcher draining %d records\n\n", cfg.Records)
	if o.pg == "" {
		if os.Getenv("CI") == "true" {
			return errors.New("compare: OUTBOUND_POSTGRES_URL is not set but CI=true")
		}
		fmt.Fprintf(o.out, "Skipped: set OUTBOUND_POSTGRES_URL (or -pg) to a PostgreSQL database.\n")
		return nil
	}
	cfg.PG, cfg.Progress = o.pg, o.progress
	start := time.Now()
	res, err := bench.RunScale(ctx, cfg)
	if err == nil {
		cfg = res.Config
	}
	fmt.Fprintf(o.progress, "scale: done in %v\n", time.Since(start).Round(time.Second))

	t := table{head: []string{"destinations", "pending records", "claims", "p50", "p99", "max"}}
	for _, r := range res.Claims {
		t.add(fmt.Sprint(r.Destinations), fmt.Sprint(r.Depth), fmt.Sprint(r.Claims), ms(r.P50), ms(r.P99), ms(r.Max))
	}
	t.write(o.out)
	db := "the database of -pg"
	if cfg.Database != "" {
		db = "database " + cfg.Database + " (created if missing) on the server of -pg"
	}
	fmt.Fprintf(o.out, "\nLatency of one Store.Claim of %d records (the largest claim of a Dispatcher at Concurrency 16), in ms, timed from the caller; each claim's records are released, untimed, before the next, so the depth stays put; %d untimed claims first. Each depth of each series is a fresh schema in %s, filled by the store itself (Store.Enqueue, %d messages a call, generated IDs, no keys, destinations round robin; %s) and then vacuumed and analyzed, as autovacuum would; the claims are timed at the depths in turn, 10 at a time, so the machine's changing load falls on every depth alike.\n",
		cfg.ClaimBatch, max(1, cfg.Claims/10), db, cfg.FillBatch, fillRate(res.Fill))

	for _, dests := range slices.Sorted(maps.Keys(res.Plans)) {
		fmt.Fprintf(o.out, "\nPlans of one claim of %d with %d pending records over %d destination(s) (auto_explain, ANALYZE and BUFFERS):\n\n```\n%s\n```\n", cfg.ClaimBatch, cfg.Records, dests, strings.TrimSpace(res.Plans[dests]))
	}

	if d := res.Drain; d.Elapsed > 0 {
		t = table{head: []string{"records", "destinations", "concurrency", "peak RSS", "largest VmRSS sample", "VmHWM", "drain time", "records/s", "Go heap in use after"}}
		t.add(fmt.Sprint(d.Records), fmt.Sprint(d.Destinations), fmt.Sprint(d.Concurrency), mb(d.Peak()), mb(d.PeakRSS), mb(d.HWM),
			d.Elapsed.Round(100*time.Millisecond).String(), fmt.Sprintf("%.0f", d.PerSecond()), mb(int64(d.HeapInuse)))
		fmt.Fprintln(o.out)
		t.write(o.out)
		fmt.Fprintf(o.out, "\nOne Dispatcher (Concurrency %d, a no-op Deliverer, a pool of %d connections) alone in a child process of this command drains the backlog of the %d-destination series; this process reads the child's VmRSS every %v (%d samples); VmHWM is the child's own peak, read by it when it had drained (getrusage's ru_maxrss is not shown: for a child started by fork and exec it also counts the parent's memory before the exec). Every record is checked delivered after exactly one attempt. Target: under 100 MB (MB = 2^20 bytes).\n",
			d.Concurrency, bench.DurablePoolSize, d.Destinations, bench.RSSSampleInterval, d.Samples)
	}
	return err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func mb(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
}

func fillRate(r bench.Rate) string {
	if r.Jobs == 0 {
		return "nothing filled"
	}
	return fmt.Sprintf("%d records at %.0f records/s", r.Jobs, r.PerSecond())
}
