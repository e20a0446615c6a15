package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// BenchmarkDispatcherObservers drains a backlog through a no-op deliverer
// with and without the observers, to show what observability costs per
// record. One op is one backlog; ns/record and allocs/record are what to
// compare.
//
//	none         no observer
//	log-info     logging.Observer, JSON to io.Discard at Info: per-record lines are Debug, so skipped
//	log-debug    logging.Observer at Debug: one JSON line per record
//	metrics      Collector with exemplars (at most one per series per second)
//	metrics-noex Collector without exemplars
//	failures     Failures
//	both-info    logging.Observer at Info + Collector
//	both-debug   logging.Observer at Debug + Collector
func BenchmarkDispatcherObservers(b *testing.B) {
	const backlog = 10_000
	payload := []byte(`{"candidate":42}`)
	observers := []struct {
		name string
		make func(b *testing.B) delivery.Observer
	}{
		{"none", func(*testing.B) delivery.Observer { return nil }},
		{"log-info", func(b *testing.B) delivery.Observer { return newLogs(b, slog.LevelInfo) }},
		{"log-debug", func(b *testing.B) delivery.Observer { return newLogs(b, slog.LevelDebug) }},
		{"metrics", func(b *testing.B) delivery.Observer { return newBenchMetrics(b, false) }},
		{"metrics-noex", func(b *testing.B) delivery.Observer { return newBenchMetrics(b, true) }},
		{"failures", func(b *testing.B) delivery.Observer {
			f, err := failures.New(failures.Config{})
			if err != nil {
				b.Fatal(err)
			}
			return f
		}},
		{"both-info", func(b *testing.B) delivery.Observer {
			return delivery.Observers(newLogs(b, slog.LevelInfo), newBenchMetrics(b, false))
		}},
		{"both-debug", func(b *testing.B) delivery.Observer {
			return delivery.Observers(newLogs(b, slog.LevelDebug), newBenchMetrics(b, false))
		}},
	}
	for _, conc := range []int{1, 16} {
		for _, o := range observers {
			b.Run(fmt.Sprintf("conc=%d/%s", conc, o.name), func(b *testing.B) {
				noop := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
				msgs := make([]delivery.Message, backlog)
				obs := o.make(b)
				var allocs uint64
				for i := 0; i < b.N; i++ {
					b.StopTimer() // only the drains count
					store := memstore.New(memstore.Config{})
					for i := range msgs {
						msgs[i] = delivery.Message{ID: fmt.Sprint(i), Destination: "ats", Payload: payload}
					}
					if _, err := store.Enqueue(context.Background(), msgs...); err != nil {
						b.Fatal(err)
					}
					d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
						Store: store, Deliverer: noop, Concurrency: conc, MaxPerRun: backlog, Observer: obs,
					})
					if err != nil {
						b.Fatal(err)
					}
					before := mallocs()
					b.StartTimer()
					rep, err := d.RunOnce(context.Background())
					b.StopTimer()
					allocs += mallocs() - before
					if err != nil || rep.Delivered != backlog {
						b.Fatalf("delivered %d, err %v", rep.Delivered, err)
					}
				}
				n := float64(b.N) * backlog
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/record")
				b.ReportMetric(float64(allocs)/n, "allocs/record")
			})
		}
	}
}

func newLogs(b *testing.B, level slog.Level) *logging.Observer {
	o, err := logging.NewObserver(logging.Config{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		b.Fatal(err)
	}
	return o
}

func newBenchMetrics(b *testing.B, noExemplars bool) *metrics.Collector {
	m, err := metrics.New(metrics.Config{DisableExemplars: noExemplars})
	if err != nil {
		b.Fatal(err)
	}
	prometheus.NewRegistry().MustRegister(m)
	return m
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}
