package metrics_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// A Collector and a logging.Observer side by side on one dispatcher; the queue gauges
// come from the store. Serve reg with promhttp.HandlerFor(reg,
// promhttp.HandlerOpts{EnableOpenMetrics: true}) to expose exemplars.
func Example() {
	store := memstore.New(memstore.Config{})
	m, err := metrics.New(metrics.Config{Store: store})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	logs, err := logging.NewObserver(logging.Config{
		Logger: slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		panic(err)
	}

	partner := delivery.DelivererFunc(func(_ context.Context, msg *delivery.Message) error {
		if msg.ID == "c" {
			return &classify.Error{Class: classify.ClassEphemeral, Status: 503}
		}
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: partner, Observer: delivery.Observers(logs, m),
	})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		_, _ = store.Enqueue(context.Background(), delivery.Message{ID: id, Destination: "ats", Payload: []byte("{}")})
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		panic(err)
	}

	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbound_actions_total Claimed records by destination and what the dispatcher did with them: delivered, duplicate, retry, dead_letter, discard, defer, release.
# TYPE outbound_actions_total counter
outbound_actions_total{action="delivered",destination="ats"} 2
outbound_actions_total{action="retry",destination="ats"} 1
`), "outbound_actions_total")
	fmt.Println("actions as expected:", err == nil)
	fams, _ := reg.Gather()
	for _, mf := range fams {
		if mf.GetName() == "outbound_queue_records" {
			for _, s := range mf.GetMetric() {
				fmt.Printf("%s %v\n", s.GetLabel()[0].GetValue(), s.GetGauge().GetValue())
			}
		}
	}
	// Output:
	// actions as expected: true
	// dead 0
	// delivered 2
	// discarded 0
	// in_flight 0
	// pending 1
}
