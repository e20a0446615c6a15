// Command compare runs every comparison of package bench and prints one
// markdown report: a table per comparison with absolute numbers and ratios,
// and a note on the machine.
//
//	cd internal/bench
//	go run ./cmd/compare                  # full: 1s per benchmark, 50,000 durable jobs
//	go run ./cmd/compare -count 3         # median of three runs per benchmark
//	go run ./cmd/compare -quick           # CI: one op per benchmark, 200 jobs
//	go run ./cmd/compare -only http,token # some comparisons only
//	go run ./cmd/compare -only dispatcher -records 200000
//	go run ./cmd/compare -only fleet      # 4 processes against a 20 req/s partner, 60s per row
//	go run ./cmd/compare -only e2e        # PostgreSQL to a faulty HTTP partner, outbound and River
//	go run ./cmd/compare -only chaos      # faults on a private PostgreSQL server: lost, duplicated, recovery
//	go run ./cmd/compare -only scale      # claim latency at 1k/100k/1M pending, RSS of a 1M drain
//	go run ./cmd/compare -only scale -scale-records 100000
//	go run ./cmd/compare -only instructions # CPU per op as instructions, under valgrind (a minute or two)
//
// The fleet comparison (real child processes of this command on one
// PostgreSQL queue) takes about four minutes and is only run when named
// in -only: neither the default run nor -quick includes it. Nor does the
// end-to-end comparison (-e2e-records records, 10,000 by default, enqueued
// on PostgreSQL and delivered over HTTP to a loopback partner that fails
// 10% of requests, times out 1% and is down for 5s in the middle; a
// minute or two); it exits non-zero if a stack lost a record. Nor does the
// chaos comparison, which starts a PostgreSQL server of its own (initdb
// into a temporary directory, a free loopback port; the binaries of the
// postgresql package, run as the postgres OS user when this command runs
// as root), restarts it, cuts its connections, fills its connection slots
// and SIGKILLs the dispatcher process, then stops and removes it. Nor does the scale
// comparison, which fills outbound's store to a million pending records
// per series (two series: one destination and 1,000) in a database of its
// own (-scale-db, created if missing), times claims at each depth, and has
// one dispatcher, alone in a child process, drain the backlog while its
// resident set size is sampled: 20 minutes or more on a small machine;
// -scale-records makes it smaller. Nor does the instruction count, which
// runs each pipeline and HTTP contender alone in a child process under
// valgrind (it must be installed) and reports instructions per op, which
// no other load on the machine moves.
//
// The durable comparison uses the PostgreSQL database in
// OUTBOUND_POSTGRES_URL (or -pg); without one it is skipped, unless
// CI=true, where that is an error. It exits non-zero if any contender
// failed or did not do the expected work.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outbound-go/outbound/internal/bench"
)

type options struct {
	args        []string
	quick       bool
	benchtime   string
	count       int
	jobs        int
	records     int
	batch       int
	pg          string
	only        map[string]bool
	httpWorkers []int
	fleet       bench.FleetConfig
	e2e         bench.E2EConfig
	chaos       bench.ChaosConfig
	chaosQueues []bench.ChaosContender
	scale       bench.ScaleConfig
	out         io.Writer
	progress    io.Writer
}

var (
	// defaultSections run without -only (and with -quick).
	defaultSections = []string{"pipeline", "http", "durable", "dispatcher", "token"}
	// sections are every comparison -only may name.
	sections = append(slices.Clone(defaultSections), "fleet", "e2e", "chaos", "scale", "instructions")
)

func main() {
	if bench.IsFleetChild() { // a dispatcher process of the fleet comparison
		os.Exit(bench.RunFleetChild())
	}
	if bench.IsChaosChild() { // the dispatcher process of the chaos comparison
		os.Exit(bench.RunChaosChild())
	}
	if bench.IsScaleChild() { // the draining dispatcher process of the scale comparison
		os.Exit(bench.RunScaleChild())
	}
	if bench.IsInstructionsChild() { // a contender counted under valgrind
		os.Exit(bench.RunInstructionsChild())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	o := options{args: args, out: os.Stdout, progress: os.Stderr}
	only := fs.String("only", strings.Join(defaultSections, ","), "comma-separated comparisons to run: "+strings.Join(sections, ", ")+" (fleet, e2e, chaos, scale and instructions only when named)")
	fs.BoolVar(&o.quick, "quick", false, "tiny run that only checks every contender works (as CI runs it): -benchtime 1x, -jobs 200")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "time (1s) or count (100x) per benchmark")
	fs.IntVar(&o.count, "count", 1, "runs per benchmark; the median is reported")
	fs.IntVar(&o.jobs, "jobs", 50_000, "durable jobs inserted and then worked, per concurrency")
	fs.IntVar(&o.batch, "batch", 1000, "durable jobs per insert call")
	fs.IntVar(&o.records, "records", 100_000, "records in the backlog the dispatcher comparison drains")
	fs.StringVar(&o.pg, "pg", os.Getenv("OUTBOUND_POSTGRES_URL"), "PostgreSQL URL for the durable and fleet comparisons")
	fs.DurationVar(&o.fleet.Duration, "fleet-duration", time.Minute, "length of each fleet comparison run")
	fs.DurationVar(&o.fleet.Window, "fleet-window", 5*time.Second, "span the fleet comparison's partner counts requests in")
	fs.IntVar(&o.fleet.Processes, "fleet-processes", 4, "dispatcher processes in the fleet comparison")
	fs.IntVar(&o.e2e.Records, "e2e-records", 10_000, "records the end-to-end comparison enqueues and delivers")
	fs.IntVar(&o.e2e.Concurrency, "e2e-concurrency", 16, "workers of each stack in the end-to-end comparison")
	fs.DurationVar(&o.e2e.DownFor, "e2e-down", 5*time.Second, "how long the end-to-end comparison's partner is down")
	fs.Uint64Var(&o.e2e.Seed, "e2e-seed", 1, "seed of the end-to-end comparison's faults")
	fs.StringVar(&o.chaos.PGBin, "chaos-pgbin", "", "directory of the PostgreSQL server binaries (initdb, pg_ctl) the chaos comparison runs its private server with; empty means the newest /usr/lib/postgresql/*/bin")
	fs.IntVar(&o.chaos.Records, "chaos-records", 20000, "records each chaos cell enqueues and delivers")
	chaosQueues := fs.String("chaos-queues", "outbound,river", "queues the chaos comparison runs each fault with: outbound, river")
	fs.IntVar(&o.scale.Records, "scale-records", bench.DefaultScaleRecords, "largest backlog of the scale comparison (claims are also timed at 1,000 and 100,000 when smaller), drained by one dispatcher process")
	fs.IntVar(&o.scale.Claims, "scale-claims", 500, "claims timed at each depth of the scale comparison")
	fs.IntVar(&o.scale.DrainConcurrency, "scale-concurrency", 16, "Concurrency of the dispatcher process that drains the scale comparison's backlog")
	fs.StringVar(&o.scale.Database, "scale-db", "outbound_scale", "database on the -pg server the scale comparison works in, created if missing (empty: the -pg database itself)")
	fs.BoolVar(&o.scale.SkipDrain, "scale-skip-drain", false, "time the scale comparison's claims only, without the drain")
	fs.StringVar(&o.scale.HeapProfile, "scale-heapprofile", "", "file the scale comparison's draining process writes a heap profile to when it has drained")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.quick {
		o.benchtime, o.count, o.jobs, o.records = "1x", 1, 200, 2000
	}
	if o.count < 1 || o.jobs < 1 || o.batch < 1 || o.records < 1 {
		return o, errors.New("compare: -count, -jobs, -batch and -records must be positive")
	}
	if o.chaos.Records < 3 {
		return o, errors.New("compare: -chaos-records must be at least 3")
	}
	if o.fleet.Duration <= 0 || o.fleet.Window <= 0 || o.fleet.Processes < 1 {
		return o, errors.New("compare: -fleet-duration, -fleet-window and -fleet-processes must be positive")
	}
	if o.scale.Records < 1 || o.scale.Claims < 1 || o.scale.DrainConcurrency < 1 {
		return o, errors.New("compare: -scale-records, -scale-claims and -scale-concurrency must be positive")
	}
	o.fleet.PartnerRate = 20
	if o.e2e.Records < 2 || o.e2e.Concurrency < 1 || o.e2e.DownFor <= 0 {
		return o, errors.New("compare: -e2e-records must be at least 2, -e2e-concurrency and -e2e-down positive")
	}
	o.e2e = o.e2e.WithDefaults()
	o.only = map[string]bool{}
	for s := range strings.SplitSeq(*only, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(sections, s) {
			return o, fmt.Errorf("compare: -only: unknown comparison %q (have %s)", s, strings.Join(sections, ", "))
		}
		o.only[s] = true
	}
	for s := range strings.SplitSeq(*chaosQueues, ",") {
		i := slices.IndexFunc(bench.ChaosContenders(), func(c bench.ChaosContender) bool { return c.Kind == strings.TrimSpace(s) })
		if i < 0 {
			return o, fmt.Errorf("compare: -chaos-queues: unknown queue %q (have outbound, river)", s)
		}
		o.chaosQueues = append(o.chaosQueues, bench.ChaosContenders()[i])
	}
	o.httpWorkers = []int{1, 8, 32}
	return o, nil
}

func run(ctx context.Context, o options) error {
	if err := bench.SetBenchtime(o.benchtime); err != nil {
		return err
	}
	pg := o.pg
	if !o.only["durable"] && !o.only["scale"] {
		pg = ""
	}
	m := bench.ReadMachine(ctx, pg)
	fmt.Fprintf(o.out, "Machine: %s.\n\n", m)
	fmt.Fprintf(o.out, "Run: `go run ./cmd/compare %s` (benchtime %s, median of %d).\n", strings.Join(shownArgs(o.args), " "), o.benchtime, o.count)

	var errs []error
	if o.only["pipeline"] {
		errs = append(errs, pipeline(o))
	}
	if o.only["http"] {
		errs = append(errs, httpLoad(o))
	}
	if o.only["durable"] {
		errs = append(errs, durable(ctx, o))
	}
	if o.only["dispatcher"] {
		errs = append(errs, dispatcher(ctx, o))
	}
	if o.only["token"] {
		errs = append(errs, token(o))
	}
	if o.only["fleet"] {
		errs = append(errs, fleet(ctx, o))
	}
	if o.only["e2e"] {
		errs = append(errs, e2e(ctx, o))
	}
	if o.only["chaos"] {
		errs = append(errs, chaos(ctx, o))
	}
	if o.only["scale"] {
		errs = append(errs, scale(ctx, o))
	}
	if o.only["instructions"] {
		errs = append(errs, instructions(ctx, o))
	}
	fmt.Fprintf(o.out, "\nLoad average at the end: %s.\n", bench.ReadLoad())
	return errors.Join(errs...)
}

// shownArgs returns args with the value of -pg hidden: a database URL may
// hold a password, and the report is meant to be pasted.
func shownArgs(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "pg" {
			continue
		}
		if hasValue {
			out[i] = a[:strings.Index(a, "=")] + "=URL"
		} else if i+1 < len(out) {
			out[i+1] = "URL"
		}
	}
	return out
}

// job is one benchmark of a comparison: a contender under a harness.
type job struct {
	c       bench.Contender
	harness func(bench.Contender) func(*testing.B)
	label   string // for progress lines
}

// result is a job's outcome: the run with the median ns/op, the median
// of its CPU time per op (0 where unknown), and every run in round order.
type result struct {
	testing.BenchmarkResult
	cpuNsPerOp float64
	rounds     []testing.BenchmarkResult
}

// measureAll runs every job o.count times, round by round (each job once,
// then each again), so that a change in the machine's load during the run
// falls on every contender alike; odd rounds run the jobs in reverse
// order, so that no job always runs right after the same neighbour or at
// the same point of a round. It returns each job's result, nil for a job
// that failed, and the failures.
func measureAll(o options, jobs []job) ([]*result, error) {
	runs := make([][]testing.BenchmarkResult, len(jobs))
	failed := make([]bool, len(jobs))
	var errs []error
	for round := range o.count {
		for k := range jobs {
			i := k
			if round%2 == 1 {
				i = len(jobs) - 1 - k
			}
			j := jobs[i]
			if failed[i] {
				continue
			}
			fmt.Fprintf(o.progress, "  %s (run %d of %d)\n", j.label, round+1, o.count)
			r, err := bench.Measure(j.c, j.harness)
			if err != nil {
				failed[i] = true
				errs = append(errs, fmt.Errorf("%s: %w", j.label, err))
				continue
			}
			runs[i] = append(runs[i], r)
		}
	}
	out := make([]*result, len(jobs))
	for i, rs := range runs {
		if failed[i] || len(rs) == 0 {
			continue
		}
		cpu := make([]float64, 0, len(rs))
		for _, r := range rs {
			cpu = append(cpu, r.Extra["cpu-ns/op"])
		}
		slices.Sort(cpu)
		sorted := slices.Clone(rs)
		slices.SortFunc(sorted, func(a, b testing.BenchmarkResult) int {
			return cmp.Compare(nsPerOp(&a), nsPerOp(&b))
		})
		out[i] = &result{BenchmarkResult: sorted[len(sorted)/2], cpuNsPerOp: cpu[len(cpu)/2], rounds: rs}
	}
	return out, errors.Join(errs...)
}

// pairedRatio returns the median over rounds of value(r's run)/value(ref's
// run) in the same round, or 0 when no round has both. Both ran within
// seconds of each other in every round, so a load change between rounds
// moves numerator and denominator alike, where a ratio of the two medians
// would mix runs made under different loads.
func pairedRatio(r, ref *result, value func(*testing.BenchmarkResult) float64) float64 {
	if r == nil || ref == nil {
		return 0
	}
	var ratios []float64
	for i := 0; i < len(r.rounds) && i < len(ref.rounds); i++ {
		v, base := value(&r.rounds[i]), value(&ref.rounds[i])
		if v > 0 && base > 0 {
			ratios = append(ratios, v/base)
		}
	}
	return median(ratios)
}

// median returns the median of vs (the mean of the middle two for an even
// count), or 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

func reqPerSec(r *testing.BenchmarkResult) float64 {
	if r.T <= 0 {
		return 0
	}
	return float64(r.N) / r.T.Seconds()
}

func cpuPerOp(r *testing.BenchmarkResult) float64 { return r.Extra["cpu-ns/op"] }

func pipeline(o options) error {
	fmt.Fprintf(o.progress, "pipeline overhead\n")
	cs := bench.PipelineContenders()
	jobs := make([]job, len(cs))
	for i, c := range cs {
		jobs[i] = job{c: c, harness: bench.Serial, label: c.Name}
	}
	res, err := measureAll(o, jobs)
	rs := make([]*testing.BenchmarkResult, len(cs))
	for i, r := range res {
		if r != nil {
			rs[i] = &r.BenchmarkResult
		}
	}
	best := bestPeer(cs, func(i int) (float64, bool) {
		return nsPerOp(rs[i]), rs[i] != nil
	}, lowerIsBetter)

	t := table{head: []string{"chain", "ns/op", "B/op", "allocs/op", "÷ best peer"}}
	for i, c := range cs {
		if rs[i] == nil {
			t.add(c.Name, "failed", "", "", "")
			continue
		}
		r := rs[i]
		t.add(c.Name, nsop(r), fmt.Sprint(r.AllocedBytesPerOp()), fmt.Sprint(r.AllocsPerOp()), ratio(nsPerOp(r), best))
	}
	fmt.Fprintf(o.out, "\n### 1. Pipeline overhead on the success path (no I/O)\n\n")
	t.write(o.out)
	fmt.Fprintf(o.out, "\nOne op: one attempt returning a 200, classified, through retry (3 tries) and a circuit breaker (and, for outbound, the health gate). ÷ best peer: ns/op over the fastest full peer's (lower is better); the policy-check-only and gobreaker-alone rows do less work and are never the reference (the latter is the floor of every chain built on gobreaker, outbound's included).\n")
	return err
}

func httpLoad(o options) error {
	fmt.Fprintf(o.progress, "HTTP to loopback\n")
	srv := bench.NewLoopback()
	defer srv.Close()
	var names []string // in the order of the longest list
	type key struct {
		name    string
		workers int
	}
	var jobs []job
	var keys []key
	for _, w := range o.httpWorkers {
		cs := bench.HTTPContenders(srv.URL, w)
		if len(cs) > len(names) {
			names = names[:0]
			for _, c := range cs {
				names = append(names, c.Name)
			}
		}
		for _, c := range cs {
			jobs = append(jobs, job{
				c:       c,
				harness: func(c bench.Contender) func(*testing.B) { return bench.Concurrent(c, w) },
				label:   fmt.Sprintf("%s, c=%d", c.Name, w),
			})
			keys = append(keys, key{c.Name, w})
		}
	}
	res, err := measureAll(o, jobs)
	got := map[key]*result{} // nil for a job that failed
	for i, k := range keys {
		got[k] = res[i]
	}

	head := []string{"client"}
	for _, w := range o.httpWorkers {
		head = append(head, fmt.Sprintf("c=%d req/s", w), "÷ net/http", "CPU µs/req", "÷ net/http")
	}
	t := table{head: head}
	base := names[0] // bare net/http
	for _, n := range names {
		row := []string{n}
		for _, w := range o.httpWorkers {
			r, ran := got[key{n, w}]
			switch {
			case !ran:
				row = append(row, "–", "", "", "")
			case r == nil:
				row = append(row, "failed", "", "", "")
			default:
				ref := got[key{base, w}]
				row = append(row, fmt.Sprintf("%.0f", reqPerSec(&r.BenchmarkResult)), ratioOf(pairedRatio(r, ref, reqPerSec)),
					cpuMicros(r.cpuNsPerOp), ratioOf(pairedRatio(r, ref, cpuPerOp)))
			}
		}
		t.add(row...)
	}
	fmt.Fprintf(o.out, "\n### 2. HTTP POST to a loopback server\n\n")
	t.write(o.out)
	fmt.Fprintf(o.out, "\nc = concurrent senders sharing one client; the server runs in the same process and shares the %d CPUs. Every client has an idle pool of %d connections per host. req/s and CPU µs/req: medians of %d runs. CPU µs/req: user+system CPU time of the whole process (client and server) per request, steadier than requests/s under other load but not immune to it (busy CPUs make each syscall dearer). ÷ net/http: the median, over the runs, of the ratio to bare net/http's run in the same round (every contender runs once per round, back to back, in alternating order), so that load that changes between rounds cancels out; for req/s higher is better (1.00 is the physical limit), for CPU lower is better.\n",
		runtime.NumCPU(), bench.HTTPPoolSize, o.count)
	return err
}

// ratioOf formats a ratio, "–" for none.
func ratioOf(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func cpuMicros(ns float64) string {
	if ns <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", ns/1000)
}

func durable(ctx context.Context, o options) error {
	fmt.Fprintf(o.out, "\n### 3. Durable throughput on PostgreSQL\n\n")
	if o.pg == "" {
		if os.Getenv("CI") == "true" {
			return errors.New("compare: OUTBOUND_POSTGRES_URL is not set but CI=true")
		}
		fmt.Fprintf(o.out, "Skipped: set OUTBOUND_POSTGRES_URL (or -pg) to a PostgreSQL database.\n")
		return nil
	}
	cfg := bench.DurableConfig{URL: o.pg, Jobs: o.jobs, Batch: o.batch, Concurrency: []int{1, 16}}
	cs := bench.DurableContenders()
	rs := make([]*bench.DurableResult, len(cs))
	var errs []error
	for i, c := range cs {
		fmt.Fprintf(o.progress, "durable: %s ...\n", c.Name)
		start := time.Now()
		r, err := bench.RunDurable(ctx, c, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(o.progress, "  done in %v\n", time.Since(start).Round(time.Millisecond))
		rs[i] = &r
	}
	col := func(get func(r *bench.DurableResult) float64) func(i int) (float64, bool) {
		return func(i int) (float64, bool) {
			if rs[i] == nil {
				return 0, false
			}
			return get(rs[i]), true
		}
	}
	insert := func(r *bench.DurableResult) float64 { return r.Insert.PerSecond() }
	work := func(w int) func(r *bench.DurableResult) float64 {
		return func(r *bench.DurableResult) float64 { return r.Work[w].PerSecond() }
	}
	bestInsert := bestPeer(durableAsContenders(cs), col(insert), higherIsBetter)
	best1 := bestPeer(durableAsContenders(cs), col(work(1)), higherIsBetter)
	best16 := bestPeer(durableAsContenders(cs), col(work(16)), higherIsBetter)
	t := table{head: []string{"queue", "insert jobs/s", "÷ best peer", "work c=1 jobs/s", "÷ best peer", "work c=16 jobs/s", "÷ best peer"}}
	for i, c := range cs {
		r := rs[i]
		if r == nil {
			t.add(c.Name, "failed", "", "", "", "", "")
			continue
		}
		t.add(c.Name,
			fmt.Sprintf("%.0f", insert(r)), ratio(insert(r), bestInsert),
			fmt.Sprintf("%.0f", work(1)(r)), ratio(work(1)(r), best1),
			fmt.Sprintf("%.0f", work(16)(r)), ratio(work(16)(r), best16))
	}
	t.write(o.out)
	fmt.Fprintf(o.out, "\n%d no-op jobs inserted in batches of %d, then worked to completion (completion committed), once per concurrency, each PostgreSQL queue in a fresh schema with a pool of %d connections (outbound sqlite: a new file in a temporary directory, no server); every job is checked completed in the database. River runs with FetchCooldown %v (its minimum). ÷ best peer: jobs/s over the best River row's (higher is better).\n",
		o.jobs, o.batch, bench.DurablePoolSize, bench.RiverFetchCooldown)
	return errors.Join(errs...)
}

// dispatcher drains a memstore backlog with the Dispatcher, unkeyed and
// keyed, at concurrency 1 and 16, o.count times each (round-robin), and
// prints the median run's records/s and allocations per record.
func dispatcher(ctx context.Context, o options) error {
	fmt.Fprintf(o.progress, "dispatcher on memstore\n")
	type cell struct{ keys, workers int }
	var cells []cell
	for _, keys := range []int{0, 100} {
		for _, w := range []int{1, 16} {
			cells = append(cells, cell{keys, w})
		}
	}
	runs := make([][]bench.DispatcherResult, len(cells))
	for round := range o.count {
		for i, c := range cells {
			fmt.Fprintf(o.progress, "  keys=%d, c=%d (run %d of %d)\n", c.keys, c.workers, round+1, o.count)
			res, err := bench.RunDispatcher(ctx, bench.DispatcherConfig{Records: o.records, Keys: c.keys, Concurrency: []int{c.workers}})
			if err != nil {
				return err
			}
			runs[i] = append(runs[i], res[0])
		}
	}
	t := table{head: []string{"records", "workers", "records/s", "allocs/record", "÷ target", "B/record"}}
	for i, c := range cells {
		rs := runs[i]
		slices.SortFunc(rs, func(a, b bench.DispatcherResult) int { return cmp.Compare(a.Drain.PerSecond(), b.Drain.PerSecond()) })
		r := rs[len(rs)/2]
		keys := "independent"
		if c.keys > 0 {
			keys = fmt.Sprintf("%d keys", c.keys)
		}
		t.add(keys, fmt.Sprint(c.workers), fmt.Sprintf("%.0f", r.Drain.PerSecond()),
			fmt.Sprintf("%.1f", r.AllocsPerRecord), ratio(r.AllocsPerRecord, bench.DispatcherTarget), fmt.Sprintf("%.0f", r.BytesPerRecord))
	}
	fmt.Fprintf(o.out, "\n### 4. Dispatcher on the in-memory store\n\n")
	t.write(o.out)
	fmt.Fprintf(o.out, "\nOne Dispatcher.RunOnce drains a backlog of %d no-op records (enqueued beforehand, untimed) from memstore with a deliverer that returns nil: the dispatcher's own cost per record. allocs/record and B/record: heap allocations of the whole process during the drain; ÷ target: allocs/record over issue 24's target of %d (at most 1.00× meets it).\n",
		o.records, bench.DispatcherTarget)
	return nil
}

func durableAsContenders(cs []bench.DurableContender) []bench.Contender {
	out := make([]bench.Contender, len(cs))
	for i, c := range cs {
		out[i] = bench.Contender{Name: c.Name, Partial: c.Ours} // Partial rows are never the best peer
	}
	return out
}

func token(o options) error {
	fmt.Fprintf(o.progress, "token cache hit\n")
	cs := bench.TokenContenders()
	const perCPU = 4
	workers := perCPU * runtime.GOMAXPROCS(0)
	var jobs []job
	for _, c := range cs {
		jobs = append(jobs,
			job{c: c, harness: bench.Serial, label: c.Name},
			job{c: c, harness: func(c bench.Contender) func(*testing.B) { return bench.Parallel(c, perCPU) }, label: c.Name + ", parallel"})
	}
	res, err := measureAll(o, jobs)
	serial := func(i int) *testing.BenchmarkResult {
		if r := res[2*i]; r != nil {
			return &r.BenchmarkResult
		}
		return nil
	}
	parallel := func(i int) *testing.BenchmarkResult {
		if r := res[2*i+1]; r != nil {
			return &r.BenchmarkResult
		}
		return nil
	}
	bestSerial := bestPeer(cs, func(i int) (float64, bool) { return nsPerOp(serial(i)), serial(i) != nil }, lowerIsBetter)
	bestPar := bestPeer(cs, func(i int) (float64, bool) { return nsPerOp(parallel(i)), parallel(i) != nil }, lowerIsBetter)
	t := table{head: []string{"cache", "ns/op", "allocs/op", "÷ x/oauth2", fmt.Sprintf("%d goroutines ns/op", workers), "÷ x/oauth2"}}
	for i, c := range cs {
		row := []string{c.Name}
		if r := serial(i); r != nil {
			row = append(row, nsop(r), fmt.Sprint(r.AllocsPerOp()), ratio(nsPerOp(r), bestSerial))
		} else {
			row = append(row, "failed", "", "")
		}
		if r := parallel(i); r != nil {
			row = append(row, nsop(r), ratio(nsPerOp(r), bestPar))
		} else {
			row = append(row, "failed", "")
		}
		t.add(row...)
	}
	fmt.Fprintf(o.out, "\n### 5. Token cache hit path\n\n")
	t.write(o.out)
	fmt.Fprintf(o.out, "\nOne op: ask the cache for a token that is valid for another hour. With %d goroutines (b.RunParallel), ns/op is wall time over all ops (lower is better).\n", workers)
	return err
}

func nsPerOp(r *testing.BenchmarkResult) float64 {
	if r == nil || r.N == 0 {
		return 0
	}
	return float64(r.T.Nanoseconds()) / float64(r.N)
}

// nsop formats ns/op with enough precision for nanosecond-scale ops.
func nsop(r *testing.BenchmarkResult) string {
	v := nsPerOp(r)
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

type better func(a, b float64) bool

func lowerIsBetter(a, b float64) bool  { return a < b }
func higherIsBetter(a, b float64) bool { return a > b }

// bestPeer returns the best value among the full peers (every contender
// but the first, which is ours, and the Partial ones), or 0 if none has a
// value.
func bestPeer(cs []bench.Contender, value func(i int) (float64, bool), isBetter better) float64 {
	best := 0.0
	for i := 1; i < len(cs); i++ {
		if cs[i].Partial {
			continue
		}
		v, ok := value(i)
		if !ok || v <= 0 {
			continue
		}
		if best == 0 || isBetter(v, best) {
			best = v
		}
	}
	return best
}

func ratio(v, ref float64) string {
	if ref <= 0 || v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v/ref)
}

// table is a markdown table.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	line := func(cells []string) {
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	line(t.head)
	sep := make([]string, len(t.head))
	for i := range sep {
		sep[i] = "---:"
	}
	sep[0] = "---"
	line(sep)
	for _, r := range t.rows {
		for len(r) < len(t.head) {
			r = append(r, "")
		}
		line(r)
	}
}
