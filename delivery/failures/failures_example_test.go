package failures_test

import (
	"context"
	"fmt"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Failures counts outcomes by destination, class and cause without
// Prometheus; Surges tells a change of rate from a steady trickle.
func ExampleTracker() {
	tracker, err := failures.New(failures.Config{})
	if err != nil {
		panic(err)
	}
	store := memstore.New(memstore.Config{})
	partner := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		if m.ID == "b" || m.ID == "c" {
			return &classify.Error{Class: classify.ClassEphemeral, Status: 503}
		}
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: partner, Observer: tracker})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		_, _ = store.Enqueue(context.Background(), delivery.Message{ID: id, Destination: "ats", Payload: []byte("{}")})
	}
	if _, err := d.RunOnce(context.Background()); err != nil {
		panic(err)
	}

	last := tracker.Last(5 * time.Minute)
	fmt.Println("attempts:", last.Total())
	fmt.Println("ephemeral:", last.Class(classify.ClassEphemeral))
	fmt.Println("http_503 at ats:", last.Destination("ats").Cause("http_503"))
	surges, _ := tracker.Surges(failures.SurgeRule{Min: 2})
	for _, s := range surges {
		fmt.Printf("surge: %s %s %s, %d in the recent window\n", s.Key.Destination, s.Key.Class, s.Key.Cause, s.Recent)
	}
	// Output:
	// attempts: 3
	// ephemeral: 2
	// http_503 at ats: 2
	// surge: ats ephemeral http_503, 2 in the recent window
}
