package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// The scale comparison (issue 24, items 4 and 5) measures outbound's
// PostgreSQL store as its backlog grows: how long Store.Claim takes with
// 1,000, 100,000 and 1,000,000 pending records, spread over one destination
// and over 1,000, and how much memory one dispatcher process needs to
// drain the largest backlog.
//
// The backlog is written by the store itself, Store.Enqueue in batches of
// ScaleConfig.FillBatch: the rows, indexes, keys and destinations are
// exactly those a service's enqueues leave. After each fill the tables are
// vacuumed and analyzed, as autovacuum would do (the test server runs with
// autovacuum off).
//
// Each depth is a schema of its own, and the claims are timed at every
// depth in turn, ten at a time, so that the load of a shared machine
// changing during the run falls on every depth alike. Each timed claim
// asks for ScaleConfig.ClaimBatch records, the largest
// claim a Dispatcher of Concurrency 16 makes (it keeps up to twice its
// Concurrency claimed), and the records it returns are released right
// after, untimed, so the depth stays the same claim after claim.

// ScaleConfig is one run of the scale comparison.
type ScaleConfig struct {
	// PG is the PostgreSQL URL. Required.
	PG string
	// Database, if set, is the database the run works in, created on PG's
	// server if it does not exist (the run's millions of rows then stay
	// out of PG's database); empty means PG's own database. It is never
	// dropped; every schema the run creates is.
	Database string
	// Records is the largest backlog, the one the dispatcher drains
	// (1,000,000).
	Records int
	// Depths are the backlogs claims are timed at, ascending, each at
	// most Records; Records is always the last. Empty means 1,000,
	// 100,000 and 1,000,000, those below Records, then Records.
	Depths []int
	// Destinations are the series: how many destinations the records are
	// spread over, round robin (1 and 1,000). One destination is the
	// default destination, "".
	Destinations []int
	// Claims is how many claims are timed at each depth (500), after
	// Claims/10 untimed ones.
	Claims int
	// ClaimBatch is the limit of each claim (32: a Dispatcher of
	// Concurrency 16 claims up to 32 records at once).
	ClaimBatch int
	// FillBatch is how many messages one Store.Enqueue call stores while
	// filling (5,000).
	FillBatch int
	// DrainDestinations names the series whose full backlog the dispatcher
	// process drains (the last of Destinations).
	DrainDestinations int
	// DrainConcurrency is the draining Dispatcher's Concurrency (16).
	DrainConcurrency int
	// SkipDrain leaves the drain out: claim latencies and plans only.
	SkipDrain bool
	// HeapProfile, if set, is a file the draining process writes a heap
	// profile to once it has drained the backlog.
	HeapProfile string
	// ChildArgs are the arguments the executable is started with as the
	// draining process: none for a command whose main calls
	// [RunScaleChild] when [IsScaleChild]; "-test.run=^$" for a test
	// binary whose TestMain does.
	ChildArgs []string
	// Progress, if set, receives a line per step.
	Progress io.Writer
}

// DefaultScaleRecords is the backlog of the scale comparison: a million
// pending records.
const DefaultScaleRecords = 1_000_000

func (c ScaleConfig) withDefaults() (ScaleConfig, error) {
	if c.Records == 0 {
		c.Records = DefaultScaleRecords
	}
	if len(c.Destinations) == 0 {
		c.Destinations = []int{1, 1000}
	}
	if c.Claims == 0 {
		c.Claims = 500
	}
	if c.ClaimBatch == 0 {
		c.ClaimBatch = 32
	}
	if c.FillBatch == 0 {
		c.FillBatch = 5000
	}
	if c.DrainDestinations == 0 {
		c.DrainDestinations = c.Destinations[len(c.Destinations)-1]
	}
	if c.DrainConcurrency == 0 {
		c.DrainConcurrency = 16
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.PG == "" || c.Records < 1 || c.Claims < 1 || c.ClaimBatch < 1 || c.FillBatch < 1 || c.DrainConcurrency < 1 {
		return c, errors.New("bench: scale: PG is required and Records, Claims, ClaimBatch, FillBatch and DrainConcurrency must be positive")
	}
	if len(c.Depths) == 0 {
		for _, d := range []int{1000, 100_000, 1_000_000} {
			if d < c.Records {
				c.Depths = append(c.Depths, d)
			}
		}
		c.Depths = append(c.Depths, c.Records)
	}
	if !slices.IsSorted(c.Depths) || c.Depths[0] < 1 || c.Depths[len(c.Depths)-1] != c.Records {
		return c, fmt.Errorf("bench: scale: Depths %v must ascend from at least 1 to Records (%d)", c.Depths, c.Records)
	}
	for _, d := range c.Destinations {
		if d < 1 {
			return c, fmt.Errorf("bench: scale: Destinations %v must be positive", c.Destinations)
		}
	}
	if !slices.Contains(c.Destinations, c.DrainDestinations) {
		return c, fmt.Errorf("bench: scale: DrainDestinations %d is not one of Destinations %v", c.DrainDestinations, c.Destinations)
	}
	return c, nil
}

// ClaimLatency is the claims timed at one depth of one series.
type ClaimLatency struct {
	// Destinations is how many destinations the pending records are
	// spread over; Depth is how many records are pending.
	Destinations, Depth int
	// Claims is how many claims were timed; Claimed is the records they
	// returned in all.
	Claims, Claimed int
	// P50, P99 and Max are the claims' latencies, each a Store.Claim call
	// from the caller's side (one round trip).
	P50, P99, Max time.Duration
}

// ScaleResult is what RunScale measured.
type ScaleResult struct {
	// Claims is one row per series and depth, in the order run.
	Claims []ClaimLatency
	// Fill is the rate of the Store.Enqueue calls that filled every
	// series.
	Fill Rate
	// Plans is, per series, the plans PostgreSQL ran for one claim at the
	// largest depth (both statements, EXPLAIN ANALYZE with buffers, from
	// auto_explain), or why they could not be read.
	Plans map[int]string
	// Drain is the dispatcher process's drain of the largest backlog.
	Drain DrainResult
	// Config is the configuration run, defaults filled in.
	Config ScaleConfig
}

// RunScale fills, for each series in cfg.Destinations, a fresh schema per
// depth, times claims at every depth in turn, reads the plans of one claim
// at the largest depth, then (unless cfg.SkipDrain) has a dispatcher process drain the DrainDestinations
// series' backlog while its memory is sampled (see [RunScaleDrain]). It
// drops every schema it made and returns the first error of any step
// along with what it measured before it.
func RunScale(ctx context.Context, cfg ScaleConfig) (ScaleResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return ScaleResult{}, err
	}
	pgURL, err := scaleDatabase(ctx, cfg.PG, cfg.Database)
	if err != nil {
		return ScaleResult{}, err
	}
	res := ScaleResult{Plans: map[int]string{}, Config: cfg}
	var drain *scaleSeries
	defer func() {
		if drain != nil {
			_ = drain.close(context.WithoutCancel(ctx))
		}
	}()
	for _, dests := range cfg.Destinations {
		largest, err := measureSeries(ctx, pgURL, dests, cfg, &res)
		if err != nil {
			return res, err
		}
		if dests == cfg.DrainDestinations && drain == nil && !cfg.SkipDrain {
			drain = largest
			continue
		}
		if err := largest.close(context.WithoutCancel(ctx)); err != nil {
			return res, err
		}
	}
	if drain == nil {
		return res, nil
	}
	fmt.Fprintf(cfg.Progress, "scale: a dispatcher process drains %d records over %d destinations at concurrency %d ...\n", cfg.Records, drain.dests, cfg.DrainConcurrency)
	res.Drain, err = RunScaleDrain(ctx, DrainConfig{
		PG: pgURL, Schema: drain.schema, Records: cfg.Records, Concurrency: cfg.DrainConcurrency,
		HeapProfile: cfg.HeapProfile, ChildArgs: cfg.ChildArgs,
	})
	res.Drain.Destinations = drain.dests
	return res, err
}

// scaleDatabase returns pgURL, or, with a database name, the URL of that
// database on the same server, creating it if it does not exist.
func scaleDatabase(ctx context.Context, pgURL, database string) (string, error) {
	if database == "" {
		return pgURL, nil
	}
	u, err := url.Parse(pgURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("bench: scale: -scale-db needs a postgres:// URL: %v", err)
	}
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return "", fmt.Errorf("bench: scale: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, database).Scan(&exists); err != nil {
		return "", fmt.Errorf("bench: scale: %w", err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize())
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // created meanwhile
			return "", fmt.Errorf("bench: scale: create database %s: %w", database, err)
		}
	}
	u.Path = "/" + database
	return u.String(), nil
}

// scaleSeries is one series' schema: a store whose backlog grows depth by
// depth.
type scaleSeries struct {
	url    string
	pool   *pgxpool.Pool
	schema string
	store  *postgres.Store
	dests  int
	filled int // records enqueued so far
}

func openScaleSeries(ctx context.Context, pgURL string, dests int) (*scaleSeries, error) {
	pool, err := newPool(ctx, pgURL)
	if err != nil {
		return nil, fmt.Errorf("bench: scale: %w", err)
	}
	s := &scaleSeries{url: pgURL, pool: pool, schema: schemaName("bench_scale"), dests: dests}
	s.store, err = postgres.New(postgres.Config{Pool: pool, Schema: s.schema})
	if err == nil {
		err = s.store.Migrate(ctx)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("bench: scale: %w", err), s.close(context.WithoutCancel(ctx)))
	}
	return s, nil
}

// close drops the series' schema and closes its pool.
func (s *scaleSeries) close(ctx context.Context) error {
	_ = s.store.Close()
	err := dropSchema(ctx, s.pool, s.schema)
	s.pool.Close()
	return err
}

// scaleDestination names destination i of a series of n.
func scaleDestination(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("dest-%04d", i%n)
}

// measureSeries fills a fresh schema per depth of cfg with records over
// dests destinations, then times claims in every schema in turn, a few at
// a time (round robin: a change in the machine's load during the
// measurement falls on every depth alike), adds the rows, the fill's rate
// and the plans of a claim at the largest depth to res, and drops every
// schema but the largest, which it returns.
func measureSeries(ctx context.Context, pgURL string, dests int, cfg ScaleConfig, res *ScaleResult) (*scaleSeries, error) {
	series := make([]*scaleSeries, 0, len(cfg.Depths))
	keep := false
	defer func() {
		for i, s := range series {
			if keep && i == len(cfg.Depths)-1 {
				continue
			}
			_ = s.close(context.WithoutCancel(ctx))
		}
	}()
	for _, depth := range cfg.Depths {
		s, err := openScaleSeries(ctx, pgURL, dests)
		if err != nil {
			return nil, err
		}
		series = append(series, s)
		fmt.Fprintf(cfg.Progress, "scale: %d destinations: filling a schema with %d pending records ...\n", dests, depth)
		start := time.Now()
		if err := s.fill(ctx, depth, cfg.FillBatch); err != nil {
			return nil, fmt.Errorf("bench: scale: fill %d destinations to %d: %w", dests, depth, err)
		}
		res.Fill.Jobs += depth
		res.Fill.Elapsed += time.Since(start)
		if err := s.analyze(ctx); err != nil {
			return nil, fmt.Errorf("bench: scale: vacuum: %w", err)
		}
	}
	fmt.Fprintf(cfg.Progress, "scale: %d destinations: %d claims of %d at each of %v pending, in turn ...\n", dests, cfg.Claims, cfg.ClaimBatch, cfg.Depths)
	times := make([][]time.Duration, len(series))
	claimed := make([]int, len(series))
	warm := max(1, cfg.Claims/10)
	for done := -warm; done < cfg.Claims; done += scaleRound {
		for i, s := range series {
			for k := range scaleRound {
				if done+k >= cfg.Claims {
					break
				}
				took, n, err := s.timeClaim(ctx, cfg.ClaimBatch)
				if err != nil {
					return nil, fmt.Errorf("bench: scale: claim with %d destinations at %d: %w", dests, cfg.Depths[i], err)
				}
				if done+k >= 0 {
					times[i] = append(times[i], took)
					claimed[i] += n
				}
			}
		}
	}
	for i, ts := range times {
		slices.Sort(ts)
		row := ClaimLatency{Destinations: dests, Depth: cfg.Depths[i], Claims: len(ts), Claimed: claimed[i],
			P50: percentile(ts, 0.50), P99: percentile(ts, 0.99), Max: ts[len(ts)-1]}
		res.Claims = append(res.Claims, row)
		fmt.Fprintf(cfg.Progress, "scale: %d destinations, %d pending: p50 %v, p99 %v, max %v\n", dests, row.Depth, row.P50, row.P99, row.Max)
	}
	largest := series[len(series)-1]
	plan, err := explainClaim(ctx, largest.url, largest.schema, cfg.ClaimBatch)
	if err != nil {
		plan = "not read: " + err.Error()
	}
	res.Plans[dests] = plan
	keep = true
	return largest, nil
}

// scaleRound is how many claims are timed at one depth before the next
// depth's turn.
const scaleRound = 10

// fill enqueues records until the series holds depth of them, batch per
// Store.Enqueue call, each with a generated ID and no key, the n-th to
// destination n mod dests.
func (s *scaleSeries) fill(ctx context.Context, depth, batch int) error {
	msgs := make([]delivery.Message, 0, batch)
	for s.filled < depth {
		msgs = msgs[:0]
		for range min(batch, depth-s.filled) {
			msgs = append(msgs, delivery.Message{Destination: scaleDestination(s.filled+len(msgs), s.dests), Payload: jobPayload(s.filled + len(msgs))})
		}
		if _, err := s.store.Enqueue(ctx, msgs...); err != nil {
			return err
		}
		s.filled += len(msgs)
	}
	return nil
}

// analyze vacuums and analyzes the series' tables, as autovacuum would
// after a fill.
func (s *scaleSeries) analyze(ctx context.Context) error {
	table := s.store.Name()
	for _, t := range []string{table, table + "_keys", table + "_destinations"} {
		schema, name, _ := strings.Cut(t, ".")
		if _, err := s.pool.Exec(ctx, "VACUUM (ANALYZE) "+pgx.Identifier{schema, name}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}

// scaleLease is the lease of the timed claims: longer than any run.
const scaleLease = 10 * time.Minute

// timeClaim times one claim of batch, checks it returned a full batch
// (or every record, if fewer are pending), and releases its records,
// untimed. It returns the claim's latency and how many records it
// returned.
func (s *scaleSeries) timeClaim(ctx context.Context, batch int) (time.Duration, int, error) {
	start := time.Now()
	recs, err := s.store.Claim(ctx, batch, scaleLease)
	took := time.Since(start)
	if err != nil {
		return 0, 0, err
	}
	if want := min(batch, s.filled); len(recs) != want {
		return 0, 0, errors.Join(fmt.Errorf("claim returned %d records, want %d", len(recs), want), releaseAll(ctx, s.store, recs))
	}
	return took, len(recs), releaseAll(ctx, s.store, recs)
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// releaseAll releases recs concurrently (the store's group commit then
// writes them in one transaction) and returns the first error.
func releaseAll(ctx context.Context, store delivery.Store, recs []delivery.Record) error {
	var wg sync.WaitGroup
	errs := make([]error, len(recs))
	for i := range recs {
		wg.Go(func() { errs[i] = store.Release(ctx, recs[i].Lease()) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// explainClaim runs one claim of batch in schema on a connection where
// auto_explain logs every statement's plan, with actual times and buffers,
// to the client, releases what it claimed, and returns the plans.
func explainClaim(ctx context.Context, pgURL, schema string, batch int) (string, error) {
	cfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		return "", err
	}
	var mu sync.Mutex
	var plans []string
	cfg.MaxConns = 1
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.Contains(n.Message, "plan:") {
			mu.Lock()
			plans = append(plans, n.Message)
			mu.Unlock()
		}
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `LOAD 'auto_explain'`)
		if err != nil {
			return fmt.Errorf("load auto_explain (needs a superuser): %w", err)
		}
		for _, set := range []string{"auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on",
			"auto_explain.log_buffers = on", "auto_explain.log_nested_statements = off", "client_min_messages = log"} {
			if _, err := conn.Exec(ctx, "SET "+set); err != nil {
				return err
			}
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	if err != nil {
		return "", err
	}
	defer func() { _ = store.Close() }()
	mu.Lock()
	plans = nil
	mu.Unlock()
	recs, err := store.Claim(ctx, batch, scaleLease)
	if err != nil {
		return "", err
	}
	mu.Lock()
	out := make([]string, len(plans))
	for i, p := range plans {
		out[i] = withoutQueryText(p)
	}
	mu.Unlock()
	if err := releaseAll(ctx, store, recs); err != nil {
		return "", err
	}
	if len(out) == 0 {
		return "", errors.New("auto_explain logged no plan")
	}
	return strings.Join(out, "\n"), nil
}

// withoutQueryText returns an auto_explain message without the statement's
// text: its first line (the duration) and the plan, whose top node is the
// first unindented line with actual times.
func withoutQueryText(msg string) string {
	lines := strings.Split(msg, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "Query Text:") {
			for j := i + 1; j < len(lines); j++ {
				if l := lines[j]; l != "" && l[0] != ' ' && l[0] != '\t' && strings.Contains(l, "(actual time=") {
					return strings.Join(append(lines[:i:i], lines[j:]...), "\n")
				}
			}
		}
	}
	return msg
}
