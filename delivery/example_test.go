package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

func ExampleWithRetry() {
	// A partner that fails twice with 503 before accepting.
	calls := 0
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer partner.Close()

	send, err := httpdelivery.New(httpdelivery.Config{Build: httpdelivery.PostTo(partner.URL, "application/json")})
	if err != nil {
		panic(err)
	}
	d := delivery.Chain(send, delivery.WithRetry(retry.Policy{
		Backoff:     retry.Constant(10 * time.Millisecond), // in-process: short waits
		MaxAttempts: 5,
		OnRetry: func(attempt int, delay time.Duration, err error) {
			fmt.Printf("attempt %d: %v; retrying in %v\n", attempt, err, delay)
		},
	}))
	err = d.Deliver(context.Background(), &delivery.Message{ID: "cand-7", Payload: []byte(`{}`)})
	fmt.Println("result:", classify.Of(err), "after", calls, "calls")
	// Output:
	// attempt 1: ephemeral: http 503 Service Unavailable; retrying in 10ms
	// attempt 2: ephemeral: http 503 Service Unavailable; retrying in 10ms
	// result: ok after 3 calls
}

func ExampleDispatcher() {
	store := memstore.New(memstore.Config{})
	ctx := context.Background()
	for _, id := range []string{"cand-1", "cand-2", "cand-3"} {
		if _, err := store.Enqueue(ctx, delivery.Message{ID: id, Key: "client-acme", Payload: []byte(`{}`)}); err != nil {
			panic(err)
		}
	}
	send := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		if m.ID == "cand-2" {
			return classify.Permanent(errors.New("candidate has no email"))
		}
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send})
	if err != nil {
		panic(err)
	}
	rep, err := d.RunOnce(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("delivered %d, dead-lettered %d\n", rep.Delivered, rep.DeadLettered)
	dead, _ := store.List(ctx, delivery.ListOptions{State: delivery.StateDead})
	for _, r := range dead.Records {
		fmt.Printf("%s: %s\n", r.ID, r.LastAttempt.Error)
	}
	// Output:
	// delivered 2, dead-lettered 1
	// cand-2: permanent: candidate has no email
}

// One event for two partners: one idempotency key and one ordering key,
// two records. The CRM answers 429 with a Retry-After: its destination is
// paused for every dispatcher on the store and its record waits without
// spending an attempt, while the ATS's record is delivered.
func ExampleDispatcherConfig_destinations() {
	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	ats := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
	crm := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		return &classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: 30 * time.Second}
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store,
		Destinations: map[string]delivery.DestinationConfig{
			"ats": {Deliverer: ats},
			"crm": {Deliverer: crm, MaxInFlight: 4}, // at most 4 in flight across every instance
		},
	})
	if err != nil {
		panic(err)
	}
	for _, dest := range []string{"ats", "crm"} {
		_, err := store.Enqueue(ctx, delivery.Message{Destination: dest, Key: "candidate-42",
			IdempotencyKey: "assessment-9001", Payload: []byte(`{"score":87}`)})
		if err != nil {
			panic(err)
		}
	}
	rep, err := d.RunOnce(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d delivered, %d waiting\n", rep.Delivered, rep.Deferred)
	ds, err := store.Destinations(ctx)
	if err != nil {
		panic(err)
	}
	for _, dst := range ds {
		fmt.Printf("%s: %s %q, %d pending, max in flight %d\n", dst.Name, dst.Status, dst.Cause, dst.Pending, dst.MaxInFlight)
	}
	// Output:
	// 1 delivered, 1 waiting
	// ats: active "", 0 pending, max in flight 0
	// crm: paused "http_429", 1 pending, max in flight 4
}
