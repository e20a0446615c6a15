package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// The drain of the scale comparison: one dispatcher, alone in a child
// process of the benchmark (so its memory is its own), drains a backlog
// from PostgreSQL with a no-op deliverer while the parent samples the
// child's resident set size.

// The parent tells a re-executed binary that it is the draining process,
// and what to drain, through these variables.
const (
	scaleChildEnv       = "OUTBOUND_BENCH_SCALE_CHILD" // "1"
	scalePGEnv          = "OUTBOUND_BENCH_SCALE_PG"
	scaleSchemaEnv      = "OUTBOUND_BENCH_SCALE_SCHEMA"
	scaleRecordsEnv     = "OUTBOUND_BENCH_SCALE_RECORDS"
	scaleConcurrencyEnv = "OUTBOUND_BENCH_SCALE_CONCURRENCY"
	scaleHeapEnv        = "OUTBOUND_BENCH_SCALE_HEAPPROFILE"
)

// scaleResultPrefix starts the line in which the child reports its drain.
const scaleResultPrefix = "scale-drain-result: "

// RSSSampleInterval is how often the parent reads the draining process's
// resident set size.
const RSSSampleInterval = 100 * time.Millisecond

// DrainConfig is one drain by a dispatcher process.
type DrainConfig struct {
	// PG is the PostgreSQL URL, Schema the outbound store's schema there.
	// Required.
	PG, Schema string
	// Records is how many records the schema holds, all pending; the
	// process drains them all. Required, positive.
	Records int
	// Concurrency is the Dispatcher's Concurrency. Zero means 16.
	Concurrency int
	// HeapProfile, if set, is a file the process writes a heap profile to
	// once the backlog is drained.
	HeapProfile string
	// ChildArgs are the arguments the executable is started with (see
	// ScaleConfig.ChildArgs).
	ChildArgs []string
}

// DrainResult is what a drain measured.
type DrainResult struct {
	// Records is how many records were drained, Destinations how many
	// destinations they were spread over (set by RunScale), Concurrency
	// the Dispatcher's.
	Records, Destinations, Concurrency int
	// Elapsed is from the Dispatcher's start to the last delivery
	// committed, as the process measured it.
	Elapsed time.Duration
	// PeakRSS is the largest resident set size sampled (VmRSS, every
	// RSSSampleInterval), Samples how many samples were read.
	PeakRSS int64
	Samples int
	// HWM is the process's own peak resident set size (VmHWM) when it had
	// drained the backlog, zero where unknown. MaxRSS is getrusage's
	// ru_maxrss for the process at its exit, zero where unknown; it is not
	// the process's alone: Linux carries the high-water mark of the memory
	// the process had before its exec (the parent's, as Go starts
	// children) into it.
	HWM, MaxRSS int64
	// HeapInuse and Sys are the Go runtime's figures in the process after
	// the drain (runtime.MemStats), before it exits.
	HeapInuse, Sys uint64
}

// PerSecond returns the records drained per second.
func (r DrainResult) PerSecond() float64 {
	return Rate{Jobs: r.Records, Elapsed: r.Elapsed}.PerSecond()
}

// Peak returns the process's largest resident set size known: the higher
// of the samples and VmHWM (ru_maxrss, which may be the parent's, is left
// out).
func (r DrainResult) Peak() int64 { return max(r.PeakRSS, r.HWM) }

// childReport is the line the draining process prints when it is done.
type childReport struct {
	Delivered int64  `json:"delivered"`
	ElapsedNS int64  `json:"elapsed_ns"`
	HWM       int64  `json:"hwm"`
	HeapInuse uint64 `json:"heap_inuse"`
	Sys       uint64 `json:"sys"`
}

// RunScaleDrain starts a dispatcher process that drains cfg.Records
// pending records from cfg.Schema, samples its resident set size until it
// exits, and checks in the database that every record was delivered with
// exactly one attempt. It returns an error if the process cannot be
// started, fails (its output is in the error), or the check fails, or ctx
// ends first (the process is then killed).
func RunScaleDrain(ctx context.Context, cfg DrainConfig) (DrainResult, error) {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 16
	}
	if cfg.PG == "" || cfg.Schema == "" || cfg.Records < 1 || cfg.Concurrency < 1 {
		return DrainResult{}, errors.New("bench: scale drain: PG and Schema are required, Records and Concurrency must be positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return DrainResult{}, err
	}
	cmd := exec.Command(exe, cfg.ChildArgs...)
	cmd.Env = append(os.Environ(), scaleChildEnv+"=1", scalePGEnv+"="+cfg.PG, scaleSchemaEnv+"="+cfg.Schema,
		scaleRecordsEnv+"="+strconv.Itoa(cfg.Records), scaleConcurrencyEnv+"="+strconv.Itoa(cfg.Concurrency),
		scaleHeapEnv+"="+cfg.HeapProfile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return DrainResult{}, fmt.Errorf("bench: scale drain: start: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	res := DrainResult{Records: cfg.Records, Concurrency: cfg.Concurrency}
	status := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
	tick := time.NewTicker(RSSSampleInterval)
	defer tick.Stop()
	var waitErr error
sample:
	for {
		if rss, _, ok := readProcStatus(status); ok {
			res.PeakRSS = max(res.PeakRSS, rss)
			res.Samples++
		}
		select {
		case waitErr = <-done:
			break sample
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	res.MaxRSS = exitedMaxRSS(cmd.ProcessState)
	if waitErr != nil {
		return res, fmt.Errorf("bench: scale drain: %w; output:\n%s", waitErr, out.String())
	}
	var rep childReport
	found := false
	for line := range strings.Lines(out.String()) {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), scaleResultPrefix); ok {
			if err := json.Unmarshal([]byte(s), &rep); err != nil {
				return res, fmt.Errorf("bench: scale drain: bad report %q: %w", s, err)
			}
			found = true
		}
	}
	if !found {
		return res, fmt.Errorf("bench: scale drain: the process reported nothing; output:\n%s", out.String())
	}
	res.Elapsed, res.HWM, res.HeapInuse, res.Sys = time.Duration(rep.ElapsedNS), rep.HWM, rep.HeapInuse, rep.Sys
	if rep.Delivered != int64(cfg.Records) {
		return res, fmt.Errorf("bench: scale drain: the process saw %d deliveries, want %d", rep.Delivered, cfg.Records)
	}
	return res, checkDrained(ctx, cfg.PG, cfg.Schema, cfg.Records)
}

// checkDrained checks that schema's outbox holds records records, every
// one delivered after exactly one attempt.
func checkDrained(ctx context.Context, pgURL, schema string, records int) error {
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("bench: scale drain: check: %w", err)
	}
	defer pool.Close()
	store, err := postgres.New(postgres.Config{Schema: schema, Pool: pool})
	if err != nil {
		return err
	}
	table, name, _ := strings.Cut(store.Name(), ".")
	var all, once int
	err = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 3 AND attempts = 1) FROM `+
		pgx.Identifier{table, name}.Sanitize()).Scan(&all, &once)
	if err != nil {
		return fmt.Errorf("bench: scale drain: check: %w", err)
	}
	if all != records || once != records {
		return fmt.Errorf("bench: scale drain: the outbox holds %d records, %d of them delivered after one attempt; want %d of %d", all, once, records, records)
	}
	return nil
}

// readProcStatus returns VmRSS and VmHWM from a /proc/<pid>/status file,
// in bytes, and false if the file cannot be read or has no VmRSS (the
// process has exited).
func readProcStatus(path string) (rss, hwm int64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	return parseProcStatus(f)
}

func parseProcStatus(r io.Reader) (rss, hwm int64, ok bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss, ok = n*1024, true
		} else {
			hwm = n * 1024
		}
	}
	return rss, hwm, ok
}

// IsScaleChild reports whether this process was started by
// [RunScaleDrain] as its dispatcher process; main (or TestMain) must then
// call [RunScaleChild] and exit with its code.
func IsScaleChild() bool { return os.Getenv(scaleChildEnv) != "" }

// RunScaleChild is the dispatcher process of the scale drain: it drains
// the parent's backlog, prints its report on stdout and returns 0. On
// failure it writes the error to stderr and returns 1.
func RunScaleChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	rep, err := scaleChild(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale drain:", err)
		return 1
	}
	b, err := json.Marshal(rep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale drain:", err)
		return 1
	}
	fmt.Println(scaleResultPrefix + string(b))
	return 0
}

func scaleChild(ctx context.Context) (childReport, error) {
	records, err := strconv.Atoi(os.Getenv(scaleRecordsEnv))
	if err != nil || records < 1 {
		return childReport{}, fmt.Errorf("bad %s %q", scaleRecordsEnv, os.Getenv(scaleRecordsEnv))
	}
	workers, err := strconv.Atoi(os.Getenv(scaleConcurrencyEnv))
	if err != nil || workers < 1 {
		return childReport{}, fmt.Errorf("bad %s %q", scaleConcurrencyEnv, os.Getenv(scaleConcurrencyEnv))
	}
	pool, err := newPool(ctx, os.Getenv(scalePGEnv))
	if err != nil {
		return childReport{}, err
	}
	defer pool.Close()
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: os.Getenv(scaleSchemaEnv)})
	if err != nil {
		return childReport{}, err
	}
	defer func() { _ = store.Close() }()
	obs := &completions{want: int64(records), done: make(chan struct{})}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:       store,
		Deliverer:   delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
		Concurrency: workers,
		Observer:    obs,
	})
	if err != nil {
		return childReport{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan error, 1)
	start := time.Now()
	go func() { ran <- d.Run(runCtx) }()
	select {
	case <-obs.done:
	case <-ctx.Done():
	}
	rep := childReport{ElapsedNS: int64(time.Since(start)), Delivered: obs.n.Load()}
	if path := os.Getenv(scaleHeapEnv); path != "" {
		if err := writeHeapProfile(path); err != nil {
			cancel()
			return rep, errors.Join(err, <-ran)
		}
	}
	cancel()
	if err := <-ran; err != nil {
		return rep, err
	}
	if p := obs.failed.Load(); p != nil {
		return rep, *p
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("stopped after %d of %d deliveries: %w", rep.Delivered, records, err)
	}
	rep.Delivered = obs.n.Load() // none after the last one counted, or the parent's check fails
	if _, hwm, ok := readProcStatus("/proc/self/status"); ok {
		rep.HWM = hwm
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInuse, rep.Sys = ms.HeapInuse, ms.Sys
	return rep, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	return errors.Join(pprof.WriteHeapProfile(f), f.Close())
}
