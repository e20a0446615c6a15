package deliverytest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// benchmarkPartner measures one delivery through the HTTP deliverer to a
// partner with a handful of rules, on one keep-alive connection.
func benchmarkPartner(b *testing.B, inMemory bool) {
	p := deliverytest.StartPartner(b, deliverytest.PartnerConfig{
		InMemory: inMemory,
		Rules: []deliverytest.Rule{
			{KeyPrefix: "bad-", Responses: []deliverytest.Response{deliverytest.InvalidRecord("x")}, Repeat: true},
			{Key: "dup", Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}, Repeat: true},
		},
	})
	send, err := httpdelivery.New(httpdelivery.Config{Client: p.Client(), Build: httpdelivery.PostTo(p.URL+"/r", "application/json")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	m := &delivery.Message{Payload: []byte(`{"candidate":"cand-1","score":71}`), CorrelationID: "c"}
	i := 0
	for b.Loop() {
		m.ID = fmt.Sprint(i)
		i++
		if err := send.Deliver(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPartnerTCP(b *testing.B)      { benchmarkPartner(b, false) }
func BenchmarkPartnerInMemory(b *testing.B) { benchmarkPartner(b, true) }

func BenchmarkRecorder(b *testing.B) {
	rec := deliverytest.NewRecorder(nil)
	ctx := context.Background()
	m := &delivery.Message{ID: "m", Key: "k", Payload: []byte(`{}`)}
	for b.Loop() {
		_ = rec.Deliver(ctx, m)
	}
}

func BenchmarkScript(b *testing.B) {
	s := deliverytest.NewScript().On("m", deliverytest.StatusError(503), nil)
	ctx := context.Background()
	m := &delivery.Message{ID: "m"}
	for b.Loop() {
		_ = s.Deliver(ctx, m)
	}
}
