package httpdelivery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

func Example() {
	// A partner that already has candidate 2 and rejects candidate 3.
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Idempotency-Key") {
		case "cand-2":
			w.WriteHeader(http.StatusConflict)
		case "cand-3":
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer partner.Close()

	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
	if err != nil {
		panic(err)
	}
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(partner.URL+"/candidates", "application/json"),
		Rules:  classify.HTTPRules{Statuses: map[int]classify.Class{http.StatusConflict: classify.ClassDuplicate}},
	})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"cand-1", "cand-2", "cand-3"} {
		err := send.Deliver(context.Background(), &delivery.Message{ID: id, Payload: []byte(`{}`)})
		fmt.Println(id, classify.Of(err))
	}
	// Output:
	// cand-1 ok
	// cand-2 duplicate
	// cand-3 permanent
}
