package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Op is one unit of a comparison's work: one delivery, one request, one
// token lookup. It returns an error when the work did not come out as
// expected (a non-2xx response, a missing token), which fails the run.
type Op func(ctx context.Context) error

// Contender is one library doing a comparison's work.
type Contender struct {
	// Name is the row's label in the table.
	Name string
	// Partial marks a contender that does only part of the comparison's
	// work (say a retry check with no breaker); it is listed, but never
	// the reference that ratios are taken against.
	Partial bool
	// Setup builds one instance of the contender (clients, breakers,
	// caches) and returns the Op to time and a function that releases what
	// Setup took. It returns an error when the instance cannot be built.
	Setup func() (Op, func(), error)
}

// Serial returns a benchmark that runs c's Op b.N times on one goroutine,
// reporting allocations. Setup is not timed. An Op error fails the
// benchmark.
func Serial(c Contender) func(b *testing.B) {
	return func(b *testing.B) {
		op, done := setup(b, c)
		defer done()
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatalf("%s: %v", c.Name, err)
			}
		}
	}
}

// Concurrent returns a benchmark that runs c's Op b.N times in total on
// workers goroutines, which take the next op as soon as they finish one,
// like a pool of senders sharing one client. It reports the rate as
// "ops/s" next to ns/op (which is wall time divided by b.N, so it falls as
// workers overlap), and the CPU time the whole process spent per op as
// "cpu-ns/op" (user and system time, so a loopback server in the same
// process is included; it moves less than wall time when other processes
// load the machine, but still moves: busy CPUs make each syscall dearer).
// An Op error fails the benchmark.
func Concurrent(c Contender, workers int) func(b *testing.B) {
	return func(b *testing.B) {
		if workers < 1 {
			b.Fatalf("bench: Concurrent(%s): workers must be at least 1, got %d", c.Name, workers)
		}
		op, done := setup(b, c)
		defer done()
		ctx := context.Background()
		var next atomic.Int64
		var failed atomic.Pointer[error]
		b.ReportAllocs()
		b.ResetTimer()
		cpu0, cpuOK := processCPU()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) && failed.Load() == nil {
					if err := op(ctx); err != nil {
						fail := err // allocated on failure only
						failed.CompareAndSwap(nil, &fail)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		cpu1, _ := processCPU()
		if p := failed.Load(); p != nil {
			b.Fatalf("%s: %v", c.Name, *p)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		if cpuOK {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
	}
}

// Parallel returns a benchmark that runs c's Op b.N times in total with
// b.RunParallel on perCPU goroutines per GOMAXPROCS, for ops of a few
// nanoseconds, where Concurrent's shared counter would cost more than the
// op. ns/op is wall time divided by b.N. An Op error fails the benchmark.
func Parallel(c Contender, perCPU int) func(b *testing.B) {
	return func(b *testing.B) {
		op, done := setup(b, c)
		defer done()
		ctx := context.Background()
		var failed atomic.Pointer[error]
		b.ReportAllocs()
		b.SetParallelism(max(perCPU, 1))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(ctx); err != nil {
					fail := err
					failed.CompareAndSwap(nil, &fail)
					return
				}
			}
		})
		if p := failed.Load(); p != nil {
			b.Fatalf("%s: %v", c.Name, *p)
		}
	}
}

func setup(b *testing.B, c Contender) (Op, func()) {
	b.Helper()
	if c.Setup == nil {
		b.Fatalf("bench: contender %q has no Setup", c.Name)
	}
	op, done, err := c.Setup()
	if err != nil {
		b.Fatalf("%s: setup: %v", c.Name, err)
	}
	if done == nil {
		done = func() {}
	}
	return op, done
}

// Measure runs the benchmark that harness (such as [Serial]) makes of c,
// outside go test, and returns its result. It returns the first error c's
// Setup or Op returned, or an error if the benchmark failed otherwise. The
// run lasts the benchtime in force (see [SetBenchtime]).
func Measure(c Contender, harness func(Contender) func(*testing.B)) (testing.BenchmarkResult, error) {
	var first atomic.Pointer[error]
	record := func(err error) { first.CompareAndSwap(nil, &err) }
	watched := Contender{Name: c.Name, Setup: func() (Op, func(), error) {
		if c.Setup == nil {
			err := errors.New("no Setup")
			record(err)
			return nil, nil, err
		}
		op, done, err := c.Setup()
		if err != nil {
			record(fmt.Errorf("setup: %w", err))
			return nil, nil, err
		}
		return func(ctx context.Context) error {
			err := op(ctx)
			if err != nil {
				record(err)
			}
			return err
		}, done, nil
	}}
	r := testing.Benchmark(harness(watched))
	if p := first.Load(); p != nil {
		return r, fmt.Errorf("bench: %s: %w", c.Name, *p)
	}
	if r.N == 0 {
		return r, fmt.Errorf("bench: %s: benchmark failed", c.Name)
	}
	return r, nil
}

// SetBenchtime sets how long (a duration such as "1s") or how many times
// (such as "100x") [Measure] runs each benchmark, as go test's -benchtime
// flag does; the default is 1s. It registers the testing flags on
// flag.CommandLine, so call it before Measure and not inside a test binary.
func SetBenchtime(v string) error {
	testing.Init()
	if err := flag.CommandLine.Set("test.benchtime", v); err != nil {
		return fmt.Errorf("bench: benchtime %q: %w", v, err)
	}
	return nil
}
