package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/admin"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A service mounts the handler under its own path, behind its own check.
func Example() {
	store := memstore.New(memstore.Config{})
	_, _ = store.Enqueue(context.Background(), delivery.Message{ID: "order-1", Destination: "crm", Payload: []byte(`{}`)})

	h, err := admin.New(admin.Config{
		Store: store,
		Authorize: func(r *http.Request, a admin.Action) error {
			if r.Header.Get("X-Role") != "oncall" { // the service's own check
				return admin.ErrForbidden
			}
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/outbox/", http.StripPrefix("/ops/outbox", h))

	req := httptest.NewRequest(http.MethodGet, "/ops/outbox/api/destinations", nil)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	req.Header.Set("X-Role", "oncall")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var body struct {
		Destinations []struct {
			Name    string `json:"name"`
			Status  string `json:"status"`
			Pending int    `json:"pending"`
		} `json:"destinations"`
	}
	_ = json.NewDecoder(rec.Body).Decode(&body)
	fmt.Printf("%d %+v\n", rec.Code, body.Destinations)
	// Output:
	// 403
	// 200 [{Name:crm Status:active Pending:1}]
}
