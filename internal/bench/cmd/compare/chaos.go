package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/bench"
)

// chaos runs each chaos cell on a private PostgreSQL server and prints
// records lost, duplicated and the time to recover. It returns an error if
// a cell failed or lost a record.
func chaos(ctx context.Context, o options) error {
	fmt.Fprintf(o.out, "\n### 7. Chaos: faults during a PostgreSQL-backed delivery run\n\n")
	fmt.Fprintf(o.progress, "chaos: starting a private PostgreSQL server\n")
	c, err := bench.OpenChaos(ctx, o.chaos)
	if err != nil {
		fmt.Fprintf(o.out, "Failed: %v\n", err)
		return err
	}
	defer c.Close()
	cfg := c.Config()
	t := table{head: []string{"fault", "queue", "records", "lost", "duplicated", "time to recover", "gap in deliveries", "all delivered after", "wall time", "note"}}
	var errs []error
	for _, cell := range bench.ChaosCells() {
		for _, q := range o.chaosQueues {
			if ctx.Err() != nil { // interrupted: the rows left would only fail
				break
			}
			fmt.Fprintf(o.progress, "chaos: %s, %s ...\n", cell.Name, q.Name)
			r, err := c.Run(ctx, q, cell)
			if err != nil {
				errs = append(errs, fmt.Errorf("chaos: %s, %s: %w", cell.Name, q.Name, err))
				t.add(cell.Name, q.Name, "failed", "", "", "", "", "", "", firstLine(err))
				continue
			}
			if r.Lost > 0 {
				errs = append(errs, fmt.Errorf("chaos: %s, %s: %d of %d records lost (queue: %s)", cell.Name, q.Name, r.Lost, r.Records, states(r.States)))
			}
			dup := fmt.Sprint(r.Duplicated)
			if r.Extra > r.Duplicated {
				dup += fmt.Sprintf(" (%d extra deliveries)", r.Extra)
			}
			note := r.Note
			if r.Settled != int64(r.Records) {
				note += "; queue: " + states(r.States)
			}
			t.add(cell.Name, q.Name, fmt.Sprint(r.Records), fmt.Sprint(r.Lost), dup, dur(r.Recover), dur(r.Gap), dur(r.AllDelivered), dur(r.Wall), note)
		}
	}
	t.write(o.out)
	fmt.Fprintf(o.out, "\nEach row: %d records in a fresh schema on a private PostgreSQL server this command started (%s, max_connections %d, %d of them reserved for superusers; the queue connects as an ordinary role), worked by a child process of this command with %d workers that POST each record to a loopback partner answering 200 after %v and counting deliveries by Idempotency-Key. outbound: the PostgreSQL store and a Dispatcher with the HTTP deliverer, AttemptTimeout %v, StoreTimeout %v, Lease %v. River: jobs inserted with InsertManyFast, a River client with JobTimeout %v and RescueStuckJobsAfter %v (its lease; its rescuer looks every 30s), FetchCooldown %v. Both retry after %v, ×%g, up to %v. The fault is injected when a third of the records have been delivered.\n\nLost: enqueued, never delivered by the time every record was settled, or by the deadline (%v). Duplicated: delivered more than once. Both queues deliver at least once: an attempt that reached the partner but whose outcome was not written (the process died, the connection was cut) is sent again when its lease expires, and the partner deduplicates by Idempotency-Key. Time to recover: from the end of the fault (the server accepting connections again, the second termination, the slots released, the new process started) to the first delivered request sent after it; gap: the longest time without one, from the last before the fault began; all delivered after: from the end of the fault to the last delivery (the rest of the backlog).\n",
		cfg.Records, c.Server(), cfg.MaxConnections, bench.ChaosReservedConnections, cfg.Workers, cfg.Latency,
		bench.ChaosAttemptTimeout, bench.ChaosStoreTimeout, bench.ChaosLease, bench.ChaosAttemptTimeout, bench.ChaosLease, bench.RiverFetchCooldown,
		bench.ChaosBackoff.Initial, bench.ChaosBackoff.Factor, bench.ChaosBackoff.Max, cfg.Timeout)
	return errors.Join(errs...)
}

func dur(d time.Duration) string {
	switch {
	case d < 0:
		return "never"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func states(m map[string]int64) string {
	var parts []string
	for s, n := range m {
		parts = append(parts, fmt.Sprintf("%d %s", n, s))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
