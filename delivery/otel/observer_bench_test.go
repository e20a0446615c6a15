package otel_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	deliveryotel "github.com/outbound-go/outbound/delivery/otel"
)

// BenchmarkDispatcherWithObserver is delivery's BenchmarkDispatcher (a
// backlog drained through a no-op deliverer; one op is the whole backlog)
// with the Observer on: every record traced (a sampled span per attempt,
// linked to its enqueuing span, exported in memory) and measured.
func BenchmarkDispatcherWithObserver(b *testing.B) {
	const backlog = 20_000
	payload := []byte(`{"candidate":42}`)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, conc := range []int{1, 16} {
		for _, sampled := range []bool{true, false} {
			b.Run(fmt.Sprintf("conc=%d/sampled=%v", conc, sampled), func(b *testing.B) {
				noop := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
				sampler := sdktrace.AlwaysSample()
				if !sampled {
					sampler = sdktrace.NeverSample()
				}
				exporter := tracetest.NewInMemoryExporter()
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSyncer(exporter))
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				defer func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) }()
				obs, err := deliveryotel.NewObserver(deliveryotel.Config{TracerProvider: tp, MeterProvider: mp})
				if err != nil {
					b.Fatal(err)
				}
				msgs := make([]delivery.Message, backlog)
				var allocs uint64
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					exporter.Reset()
					store := memstore.New(memstore.Config{})
					for i := range msgs {
						msgs[i] = delivery.Message{ID: fmt.Sprint(i), Payload: payload, TraceParent: parent}
					}
					if _, err := store.Enqueue(context.Background(), msgs...); err != nil {
						b.Fatal(err)
					}
					d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: noop, Concurrency: conc,
						MaxPerRun: backlog, Observer: obs})
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
				b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(allocs)/n, "allocs/record")
			})
		}
	}
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}
