package delivery_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

func noopMiddleware(next delivery.Deliverer) delivery.Deliverer {
	return delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		return next.Deliver(ctx, m)
	})
}

func BenchmarkChainNoop(b *testing.B) {
	base := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
	d := delivery.Chain(base, noopMiddleware, noopMiddleware, noopMiddleware, noopMiddleware, noopMiddleware)
	m := &delivery.Message{ID: "m"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Deliver(ctx, m)
	}
}

func BenchmarkHTTPDeliverer(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client, err := httpclient.New(httpclient.Config{})
	if err != nil {
		b.Fatal(err)
	}
	d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "application/json")})
	if err != nil {
		b.Fatal(err)
	}
	m := &delivery.Message{ID: "m", CorrelationID: "c", Payload: []byte(`{"candidate":42}`)}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Deliver(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHTTPDelivererParallel(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	client, _ := httpclient.New(httpclient.Config{})
	d, _ := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL, "application/json")})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		m := &delivery.Message{ID: "m", CorrelationID: "c", Payload: []byte(`{"candidate":42}`)}
		for pb.Next() {
			if err := d.Deliver(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
