package bench

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// The dispatcher comparison drains a backlog of no-op records from the
// in-memory store through a delivery.Dispatcher: what the dispatcher itself
// costs per record (claim, attempt bookkeeping, settle) with no database
// and no I/O. Issue 24's target is at most 8 allocations per record.

// DispatcherTarget is the allocations per record delivered that the
// dispatcher on the in-memory store aims to stay within.
const DispatcherTarget = 8

// DispatcherConfig says how much work RunDispatcher does.
type DispatcherConfig struct {
	// Records is the backlog drained per run. Required, positive.
	Records int
	// Concurrency lists the worker counts to drain with. Empty means 1
	// and 16.
	Concurrency []int
	// Keys is how many ordering keys the records are spread over; zero
	// means none (every record independent).
	Keys int
}

// DispatcherResult is what RunDispatcher measured at one concurrency.
type DispatcherResult struct {
	// Concurrency is the worker count.
	Concurrency int
	// Drain is the records delivered and the time RunOnce took.
	Drain Rate
	// AllocsPerRecord and BytesPerRecord are the heap allocations of the
	// whole process during the drain, per record delivered.
	AllocsPerRecord float64
	BytesPerRecord  float64
}

// RunDispatcher enqueues cfg.Records records in a fresh memstore (not
// timed) and drains them with one Dispatcher.RunOnce of a no-op deliverer,
// once per concurrency in cfg, measuring time and allocations. It returns
// an error if cfg is invalid, ctx ended, or a run did not deliver every
// record.
func RunDispatcher(ctx context.Context, cfg DispatcherConfig) ([]DispatcherResult, error) {
	if cfg.Records <= 0 || cfg.Keys < 0 {
		return nil, fmt.Errorf("bench: DispatcherConfig needs positive Records and non-negative Keys, got %d and %d", cfg.Records, cfg.Keys)
	}
	if len(cfg.Concurrency) == 0 {
		cfg.Concurrency = []int{1, 16}
	}
	out := make([]DispatcherResult, 0, len(cfg.Concurrency))
	for _, workers := range cfg.Concurrency {
		r, err := drainOnce(ctx, cfg, workers)
		if err != nil {
			return out, fmt.Errorf("bench: dispatcher with %d workers: %w", workers, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func drainOnce(ctx context.Context, cfg DispatcherConfig, workers int) (DispatcherResult, error) {
	store := memstore.New(memstore.Config{})
	if err := enqueueBacklog(ctx, store, cfg); err != nil {
		return DispatcherResult{}, err
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:       store,
		Deliverer:   delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
		Concurrency: workers,
		MaxPerRun:   cfg.Records,
	})
	if err != nil {
		return DispatcherResult{}, err
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	rep, err := d.RunOnce(ctx)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		return DispatcherResult{}, err
	}
	if rep.Delivered != cfg.Records {
		return DispatcherResult{}, fmt.Errorf("delivered %d of %d records (%v)", rep.Delivered, cfg.Records, rep)
	}
	n := float64(cfg.Records)
	return DispatcherResult{
		Concurrency:     workers,
		Drain:           Rate{Jobs: cfg.Records, Elapsed: elapsed},
		AllocsPerRecord: float64(after.Mallocs-before.Mallocs) / n,
		BytesPerRecord:  float64(after.TotalAlloc-before.TotalAlloc) / n,
	}, nil
}

// enqueueBacklog enqueues cfg.Records no-op records into store.
func enqueueBacklog(ctx context.Context, store *memstore.Store, cfg DispatcherConfig) error {
	msgs := make([]delivery.Message, cfg.Records)
	for i := range msgs {
		msgs[i] = delivery.Message{ID: strconv.Itoa(i), Payload: jobPayload(i)}
		if cfg.Keys > 0 {
			msgs[i].Key = "k" + strconv.Itoa(i%cfg.Keys)
		}
	}
	_, err := store.Enqueue(ctx, msgs...)
	return err
}
