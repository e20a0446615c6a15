package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// River in the chaos comparison: the same records as jobs in River's own
// schema on the private server, worked by a River client in the child
// process doing the same HTTP work, configured as close to outbound's
// dispatcher as River allows: JobTimeout ChaosAttemptTimeout,
// RescueStuckJobsAfter ChaosLease (River's lease: how long a running job
// of a dead process waits), retries on ChaosBackoff.

// chaosArgs is the River job of the chaos comparison: record N.
type chaosArgs struct {
	N int `json:"n"`
}

func (chaosArgs) Kind() string { return "bench_chaos" }

// chaosKey is the Idempotency-Key of River's record n.
func chaosKey(n int) string { return "river-" + strconv.Itoa(n) }

// chaosWorker POSTs a job to the partner with its Idempotency-Key.
type chaosWorker struct {
	river.WorkerDefaults[chaosArgs]
	client *http.Client
	target string
}

func (w *chaosWorker) Work(ctx context.Context, job *river.Job[chaosArgs]) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.target, bytes.NewReader(job.EncodedArgs))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", chaosKey(job.Args.N))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("partner answered %d", resp.StatusCode)
	}
	return nil
}

// NextRetry follows ChaosBackoff, as outbound's dispatcher does.
func (w *chaosWorker) NextRetry(job *river.Job[chaosArgs]) time.Time {
	return time.Now().Add(ChaosBackoff.Delay(job.Attempt))
}

// Timeout is ChaosAttemptTimeout, outbound's AttemptTimeout.
func (w *chaosWorker) Timeout(*river.Job[chaosArgs]) time.Duration { return ChaosAttemptTimeout }

// openChaosRiver migrates River into a new schema and inserts n jobs; it
// returns the Idempotency-Keys the partner will see.
func openChaosRiver(ctx context.Context, pool *pgxpool.Pool, schema string, n int) ([]string, error) {
	if err := migrateRiver(ctx, pool, schema); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &chaosWorker{}); err != nil {
		return nil, err
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema, Workers: workers, Logger: riverLogger()})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, n)
	for len(keys) < n {
		params := make([]river.InsertManyParams, min(1000, n-len(keys)))
		for i := range params {
			params[i].Args = chaosArgs{N: len(keys) + i + 1}
		}
		if _, err := c.InsertManyFast(ctx, params); err != nil {
			return nil, err
		}
		for range params {
			keys = append(keys, chaosKey(len(keys)+1))
		}
	}
	return keys, nil
}

// riverStates counts River's jobs in schema by state.
func riverStates(ctx context.Context, pool *pgxpool.Pool, schema string) (map[string]int64, error) {
	rows, err := pool.Query(ctx, "SELECT state::text, count(*) FROM "+pgx.Identifier{schema, "river_job"}.Sanitize()+" GROUP BY state")
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var state string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		out[state] = n
		return nil
	})
	return out, err
}

// chaosRiverChild runs a River client on the parent's schema until ctx
// ends.
func chaosRiverChild(ctx context.Context, pool *pgxpool.Pool, schema, target string, workers int) error {
	ws := river.NewWorkers()
	w := &chaosWorker{client: &http.Client{Timeout: 10 * time.Second}, target: target}
	if err := river.AddWorkerSafely(ws, w); err != nil {
		return err
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Schema: schema, Workers: ws, Logger: riverLogger(), FetchCooldown: RiverFetchCooldown,
		JobTimeout: ChaosAttemptTimeout, RescueStuckJobsAfter: ChaosLease, MaxAttempts: 1000,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
	})
	if err != nil {
		return err
	}
	return runRiver(ctx, c)
}
