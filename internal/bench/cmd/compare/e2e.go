package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/bench"
)

// e2e runs each stack of the end-to-end comparison against the faulty
// partner and prints what the partner and the stack counted. It returns an
// error if a stack failed or lost a record (its row is printed anyway).
func e2e(ctx context.Context, o options) error {
	cfg := o.e2e
	fmt.Fprintf(o.out, "\n### 7. End to end: %d records from PostgreSQL to a faulty partner over HTTP\n\n", cfg.Records)
	if o.pg == "" {
		if os.Getenv("CI") == "true" {
			return errors.New("compare: OUTBOUND_POSTGRES_URL is not set but CI=true")
		}
		fmt.Fprintf(o.out, "Skipped: set OUTBOUND_POSTGRES_URL (or -pg) to a PostgreSQL database.\n")
		return nil
	}
	cfg.PG = o.pg
	cs := bench.E2EContenders()
	rs := make([]*bench.E2EResult, len(cs))
	var errs []error
	for i, c := range cs {
		fmt.Fprintf(o.progress, "e2e: %s (%d records) ...\n", c.Name, cfg.Records)
		// A stuck row fails instead of hanging the command: 20 ms a
		// record (50 records/s, a fifth of a slow machine's pace) and
		// five minutes to spare.
		rowCtx, cancel := context.WithTimeout(ctx, 5*time.Minute+time.Duration(cfg.Records)*20*time.Millisecond)
		r, err := bench.RunE2E(rowCtx, cfg, c)
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
		if r.Records > 0 { // also when records were lost: the row says how many
			rs[i] = &r
			fmt.Fprintf(o.progress, "  done in %v\n", r.Elapsed.Round(time.Millisecond))
		}
	}
	best := bestPeer(e2eAsContenders(cs), func(i int) (float64, bool) {
		if rs[i] == nil {
			return 0, false
		}
		return rs[i].PerSecond(), true
	}, higherIsBetter)
	t := table{head: []string{"stack", "wall time", "records/s", "÷ River", "requests at the partner", "while down", "503s served", "timeouts served", "lost", "duplicates", "given up", "down from", "first 200 after it"}}
	for i, c := range cs {
		r := rs[i]
		if r == nil {
			t.add(c.Name, "failed")
			continue
		}
		t.add(c.Name, r.Elapsed.Round(100*time.Millisecond).String(), fmt.Sprintf("%.0f", r.PerSecond()), ratio(r.PerSecond(), best),
			fmt.Sprint(r.Requests), fmt.Sprint(r.WhileDown), fmt.Sprint(r.Served503), fmt.Sprint(r.Timeouts),
			fmt.Sprint(r.Lost), fmt.Sprint(r.Duplicates), fmt.Sprint(r.GaveUp),
			fmt.Sprintf("%.1fs to %.1fs", r.DownAt.Seconds(), (r.DownAt+r.DownFor).Seconds()), recovery(r))
	}
	t.write(o.out)
	fmt.Fprintf(o.out, "\n%s\n", strings.Join([]string{
		fmt.Sprintf("%d records enqueued (untimed) in a fresh PostgreSQL schema per stack, then worked by %d workers until the library held every record as settled (wall time). The partner (loopback, same process) answers 200 in %v; %.0f%% of requests 503 and %.0f%% are processed but answered only after %v (the client gives up at %v), decided per record and per request of that record by seed %d, so both stacks meet the same faults; once half the records were accepted it is down for %v: it answers every request 503 at once (a load balancer in front of a dead backend), and those requests are counted (while down; also in 503s served).",
			cfg.Records, cfg.Concurrency, cfg.Latency, 100*cfg.FailShare, 100*cfg.HoldShare, cfg.Hold, cfg.AttemptTimeout, cfg.Seed, cfg.DownFor),
		"Lost: records the partner never accepted (must be 0: the run fails otherwise). Duplicates: records it accepted twice, a held request it had processed and then the retry of the client that timed out; neither stack can avoid those without the partner deduplicating on the Idempotency-Key both send. Given up: records the library dead-lettered or discarded. Down from: the down window, from the start of the work; first 200 after it: when the partner accepted a record again, after the window's end. ÷ River: records/s over River's (higher is better).",
		fmt.Sprintf("Both stacks: attempt timeout %v, retries %v growing %d× per failure up to %v, no jitter, at most %d attempts; a breaker opening after %d failures in a row, open for %v, then one probe.",
			cfg.AttemptTimeout, bench.E2ERetryBase, bench.E2ERetryFactor, bench.E2ERetryCap, bench.E2EMaxAttempts, bench.E2EBreakerFailures, bench.E2EBreakerOpen),
		fmt.Sprintf("outbound: postgres.Store, `delivery.Dispatcher{Concurrency: %d, AttemptTimeout: %v, Policy: retry.Policy{Backoff: retry.Exponential{...}, MaxAttempts: %d}}` over `httpdelivery` (an `httpclient.New` client of %d connections) behind `delivery.WithBreaker(health.NewCircuitBreaker(...{ConsecutiveFailures: %d, FailureRatio: -1, OpenTimeout: %v}))`; every other setting its default (a 503 without Retry-After is retried with backoff; an open breaker defers the record without spending an attempt and pauses the destination for the default 5s).",
			cfg.Concurrency, cfg.AttemptTimeout, bench.E2EMaxAttempts, cfg.Concurrency, bench.E2EBreakerFailures, bench.E2EBreakerOpen),
		fmt.Sprintf("River: riverpgxv5, `MaxWorkers: %d`, FetchCooldown %v (its minimum), `MaxAttempts: %d`, a `ClientRetryPolicy` of the schedule above; the worker POSTs with go-retryablehttp (`RetryMax: %d`, waits 100ms then 200ms, `HTTPClient.Timeout: %v` per try, %d idle connections per host) inside a `gobreaker.CircuitBreaker` (`ReadyToTrip` at %d consecutive failures, `Timeout: %v`, `MaxRequests: 1`), and snoozes a job that meets the open breaker for %v (`JobSnooze`, no attempt spent). A River attempt can so send up to %d requests.",
			cfg.Concurrency, bench.RiverFetchCooldown, bench.E2EMaxAttempts, bench.E2EHTTPRetries, cfg.AttemptTimeout, cfg.Concurrency, bench.E2EBreakerFailures, bench.E2EBreakerOpen, bench.E2EBreakerOpen, bench.E2EHTTPRetries+1),
	}, "\n\n"))
	return errors.Join(errs...)
}

// recovery formats the time from the end of the down window to the first
// record accepted after it.
func recovery(r *bench.E2EResult) string {
	if r.DownAt == 0 || r.Recovery <= 0 {
		return "–"
	}
	return fmt.Sprintf("+%.2fs", r.Recovery.Seconds())
}

func e2eAsContenders(cs []bench.E2EContender) []bench.Contender {
	out := make([]bench.Contender, len(cs))
	for i, c := range cs {
		out[i] = bench.Contender{Name: c.Name, Partial: c.Ours}
	}
	return out
}
