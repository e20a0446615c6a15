package deliverytest_test

import (
	"context"
	"fmt"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// A test of a service's integration with its partner: the partner fails
// one record once, rejects one as invalid and already has another; the
// service's rules must deliver the rest and handle each case.
func Example() {
	// In a test, deliverytest.StartPartner(t, cfg) also closes it for you.
	partner, err := deliverytest.NewPartner(deliverytest.PartnerConfig{
		Rules: []deliverytest.Rule{
			{Key: "cand-2", Responses: deliverytest.Statuses(503)}, // fails once
			{Key: "cand-3", Responses: []deliverytest.Response{deliverytest.InvalidRecord("no email")}, Repeat: true},
			{Key: "cand-4", Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}, Repeat: true},
		},
	})
	if err != nil {
		panic(err)
	}
	defer partner.Close()

	// The code under test: the service's deliverer and dispatcher.
	client, err := partner.NewClient(httpclient.Config{MaxConnsPerHost: 2})
	if err != nil {
		panic(err)
	}
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(partner.URL+"/candidates", "application/json"),
		Rules: classify.HTTPRules{Body: classify.FirstMatch(
			classify.BodyContains(deliverytest.AlreadyProcessedText, classify.ClassDuplicate),
			classify.BodyContains(deliverytest.InvalidRecordText, classify.ClassDiscard),
		)},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("cand-%d", i)
		if _, err := store.Enqueue(ctx, delivery.Message{ID: id, Payload: []byte(`{"candidate":"` + id + `"}`)}); err != nil {
			panic(err)
		}
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: send,
		Policy: retry.Policy{Backoff: retry.Constant(0)}, // retry at once in this test
	})
	if err != nil {
		panic(err)
	}
	if _, err := d.RunOnce(ctx); err != nil {
		panic(err)
	}

	for _, r := range partner.Requests() {
		fmt.Println(r.Method, r.Path, r.IdempotencyKey, r.Status)
	}
	fmt.Println("the partner holds", partner.Delivered(), "records; peak connections:", partner.PeakConnections())
	// Output:
	// POST /candidates cand-1 200
	// POST /candidates cand-2 503
	// POST /candidates cand-3 400
	// POST /candidates cand-4 200
	// POST /candidates cand-2 200
	// the partner holds 3 records; peak connections: 1
}

func ExampleScript() {
	s := deliverytest.NewScript().
		On("sms-1", deliverytest.StatusError(503), nil). // fails once, then accepted
		On("sms-2", deliverytest.StatusError(402))       // always rejected
	for _, id := range []string{"sms-1", "sms-1", "sms-2", "sms-2", "sms-3"} {
		err := s.Deliver(context.Background(), &delivery.Message{ID: id})
		fmt.Println(id, classify.Of(err))
	}
	// Output:
	// sms-1 ephemeral
	// sms-1 ok
	// sms-2 permanent
	// sms-2 permanent
	// sms-3 ok
}

func ExampleRecorder() {
	store := memstore.New(memstore.Config{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if _, err := store.Enqueue(ctx, delivery.Message{ID: id, Key: "order-7", Payload: []byte(`{}`)}); err != nil {
			panic(err)
		}
	}
	rec := deliverytest.NewRecorder(deliverytest.NewScript().On("b", deliverytest.StatusError(503)))
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: rec, Concurrency: 4})
	if err != nil {
		panic(err)
	}
	if _, err := d.RunOnce(ctx); err != nil {
		panic(err)
	}
	// b waits for its retry and holds back c, the next record of its key.
	for _, c := range rec.Calls() {
		fmt.Println(c.Message.ID, "attempt", c.Message.Attempt, c.Class)
	}
	fmt.Println("overlaps within a key:", rec.KeyOverlaps())
	// Output:
	// a attempt 1 ok
	// b attempt 1 ephemeral
	// overlaps within a key: 0
}
