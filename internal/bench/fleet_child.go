package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// The parent of the fleet benchmark tells a re-executed binary that it is
// a dispatcher process, and what to do, through these variables.
const (
	fleetChildEnv  = "OUTBOUND_BENCH_FLEET_CHILD" // "outbound" or "river"
	fleetPGEnv     = "OUTBOUND_BENCH_FLEET_PG"
	fleetSchemaEnv = "OUTBOUND_BENCH_FLEET_SCHEMA"
	fleetTargetEnv = "OUTBOUND_BENCH_FLEET_TARGET"
	fleetRateEnv   = "OUTBOUND_BENCH_FLEET_RATE" // outbound: the destination's Rate; River: this process's rate
)

// FleetWorkers is each fleet process's concurrency, outbound's and River's.
const FleetWorkers = 8

// fleetDestination is the records' destination in the fleet benchmark.
const fleetDestination = "partner"

// IsFleetChild reports whether this process was started by [RunFleet] as
// one of its dispatcher processes; main (or TestMain) must then call
// [RunFleetChild] and exit with its code.
func IsFleetChild() bool { return os.Getenv(fleetChildEnv) != "" }

// RunFleetChild is a dispatcher process of the fleet benchmark: it works
// the parent's queue until SIGTERM, then returns 0. On failure it writes
// the error to stderr and returns 1.
func RunFleetChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := fleetChild(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fleet child:", err)
		return 1
	}
	return 0
}

func fleetChild(ctx context.Context) error {
	r, err := strconv.ParseFloat(os.Getenv(fleetRateEnv), 64)
	if err != nil || r <= 0 {
		return fmt.Errorf("bad %s %q", fleetRateEnv, os.Getenv(fleetRateEnv))
	}
	pool, err := pgxpool.New(ctx, os.Getenv(fleetPGEnv))
	if err != nil {
		return err
	}
	defer pool.Close()
	schema, target := os.Getenv(fleetSchemaEnv), os.Getenv(fleetTargetEnv)
	switch kind := os.Getenv(fleetChildEnv); kind {
	case "outbound":
		return fleetOutbound(ctx, pool, schema, target, r)
	case "river":
		return fleetRiver(ctx, pool, schema, target, r)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
}

// fleetOutbound runs one outbound dispatcher, its destination limited to
// destRate fleet-wide in the store.
func fleetOutbound(ctx context.Context, pool *pgxpool.Pool, schema, target string, destRate float64) error {
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: FleetWorkers})
	if err != nil {
		return err
	}
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(target, "application/json")})
	if err != nil {
		return err
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: send, Concurrency: FleetWorkers,
		Destinations: map[string]delivery.DestinationConfig{fleetDestination: {Rate: destRate, Burst: 1}},
	})
	if err != nil {
		return err
	}
	err = d.Run(ctx)
	if ctx.Err() != nil {
		return nil // stopped by the parent
	}
	return err
}

// partnerWorker is the River worker of the fleet benchmark: it waits for
// this process's share of the rate, POSTs the job to the partner, and
// snoozes the job for a second when the partner answers 429 (JobSnooze
// spends no attempt, as River's docs suggest for waiting on an external
// resource).
type partnerWorker struct {
	river.WorkerDefaults[noopArgs]
	limiter *rate.Limiter
	client  *http.Client
	target  string
}

func (w *partnerWorker) Work(ctx context.Context, job *river.Job[noopArgs]) error {
	if err := w.limiter.Wait(ctx); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.target, bytes.NewReader(job.EncodedArgs))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return river.JobSnooze(time.Second)
	case resp.StatusCode >= 300:
		return fmt.Errorf("partner answered %d", resp.StatusCode)
	}
	return nil
}

// fleetRiver runs one River client whose worker holds this process's
// share of the partner's rate, perProcess per second.
func fleetRiver(ctx context.Context, pool *pgxpool.Pool, schema, target string, perProcess float64) error {
	workers := river.NewWorkers()
	w := &partnerWorker{limiter: rate.NewLimiter(rate.Limit(perProcess), 1), client: &http.Client{Timeout: 10 * time.Second}, target: target}
	if err := river.AddWorkerSafely(workers, w); err != nil {
		return err
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema: schema, Workers: workers, Logger: riverLogger(), FetchCooldown: RiverFetchCooldown,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: FleetWorkers}},
	})
	if err != nil {
		return err
	}
	return runRiver(ctx, c)
}
