package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/sony/gobreaker/v2"
)

// e2eArgs is the River job of the end-to-end comparison: the same JSON as
// outbound's records ({"n": 42}), which is the body POSTed.
type e2eArgs struct {
	N int `json:"n"`
}

func (e2eArgs) Kind() string { return "bench_e2e" }

// e2eWorker POSTs the job to the partner with go-retryablehttp inside a
// gobreaker breaker. A failure is returned to River, which retries the job
// on riverRetryPolicy; a job meeting an open breaker is snoozed for the
// breaker's open time without spending an attempt.
type e2eWorker struct {
	river.WorkerDefaults[e2eArgs]
	client  *retryablehttp.Client
	breaker *gobreaker.CircuitBreaker[int]
	target  string
}

func (w *e2eWorker) Work(ctx context.Context, job *river.Job[e2eArgs]) error {
	_, err := w.breaker.Execute(func() (int, error) {
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, w.target, job.EncodedArgs)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "job-"+strconv.FormatInt(job.ID, 10))
		resp, err := w.client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			return resp.StatusCode, fmt.Errorf("partner answered %d", resp.StatusCode)
		}
		return resp.StatusCode, nil
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return river.JobSnooze(E2EBreakerOpen)
	}
	return err
}

// riverRetryPolicy is River's retry schedule in the end-to-end comparison:
// the same as outbound's, E2ERetryBase growing E2ERetryFactor times per
// failed attempt up to E2ERetryCap, counted like River's default policy
// (by the errors recorded, so snoozes do not count).
type riverRetryPolicy struct{}

func (riverRetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d := E2ERetryBase
	for range len(job.Errors) { // the failure being handled is not recorded yet
		if d >= E2ERetryCap {
			break
		}
		d *= E2ERetryFactor
	}
	return time.Now().Add(min(d, E2ERetryCap))
}

// e2eRiver is River's stack of the end-to-end comparison.
type e2eRiver struct {
	pool    *pgxpool.Pool
	schema  string
	records int
	client  *river.Client[pgx.Tx]
	http    *retryablehttp.Client
}

func openE2ERiver(ctx context.Context, cfg E2EConfig, target string) (e2eStack, error) {
	pool, err := newPool(ctx, cfg.PG)
	if err != nil {
		return nil, err
	}
	s := &e2eRiver{pool: pool, schema: schemaName("bench_e2e_river"), records: cfg.Records}
	if err := s.setUp(ctx, cfg, target); err != nil {
		return nil, errors.Join(err, s.close(context.WithoutCancel(ctx)))
	}
	return s, nil
}

func (s *e2eRiver) setUp(ctx context.Context, cfg E2EConfig, target string) error {
	if err := migrateRiver(ctx, s.pool, s.schema); err != nil {
		return err
	}

	// go-retryablehttp as a user would set it up: its pooled client with
	// the attempt timeout, an idle connection per worker (its default
	// keeps GOMAXPROCS+1), a couple of quick retries, no logging.
	s.http = retryablehttp.NewClient()
	s.http.HTTPClient.Timeout = cfg.AttemptTimeout
	if t, ok := s.http.HTTPClient.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = cfg.Concurrency
	}
	s.http.RetryMax = E2EHTTPRetries
	s.http.RetryWaitMin, s.http.RetryWaitMax = 100*time.Millisecond, time.Second
	s.http.Logger = nil

	breaker := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:        "partner",
		MaxRequests: 1,
		Timeout:     E2EBreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= E2EBreakerFailures },
	})
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &e2eWorker{client: s.http, breaker: breaker, target: target}); err != nil {
		return err
	}
	var err error
	s.client, err = river.NewClient(riverpgxv5.New(s.pool), &river.Config{
		Schema:        s.schema,
		Workers:       workers,
		Logger:        riverLogger(),
		FetchCooldown: RiverFetchCooldown,
		MaxAttempts:   E2EMaxAttempts,
		RetryPolicy:   riverRetryPolicy{},
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Concurrency}},
	})
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, 1000)
	for n := 1; n <= cfg.Records; {
		params = params[:0]
		for ; n <= cfg.Records && len(params) < cap(params); n++ {
			params = append(params, river.InsertManyParams{Args: e2eArgs{N: n}})
		}
		if _, err := s.client.InsertManyFast(ctx, params); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	return nil
}

func (s *e2eRiver) run(ctx context.Context) (int, error) {
	// A buffer for every event: a full channel drops events. Each record
	// completes once; failures beyond 3 per record are not expected.
	events, cancel := s.client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: 4*s.records + 1000,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed},
	})
	defer cancel()
	if err := s.client.Start(ctx); err != nil {
		return 0, err
	}
	var workErr error
	settled, gaveUp := 0, 0
	for settled < s.records && workErr == nil {
		select {
		case e := <-events:
			switch e.Job.State {
			case rivertype.JobStateCompleted:
				settled++
			case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
				settled++
				gaveUp++
			}
		case <-ctx.Done():
			workErr = fmt.Errorf("%d of %d settled: %w", settled, s.records, ctx.Err())
		}
	}
	if err := errors.Join(workErr, s.client.Stop(context.WithoutCancel(ctx))); err != nil {
		return 0, err
	}
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{s.schema, "river_job"}.Sanitize()+
		" WHERE state IN ('completed', 'discarded', 'cancelled')").Scan(&n)
	if err != nil {
		return 0, err
	}
	if n != s.records {
		return 0, fmt.Errorf("the database holds %d jobs as settled, River reported %d", n, s.records)
	}
	return gaveUp, nil
}

func (s *e2eRiver) close(ctx context.Context) error {
	if s.http != nil {
		s.http.HTTPClient.CloseIdleConnections()
	}
	err := dropSchema(ctx, s.pool, s.schema)
	s.pool.Close()
	return err
}
