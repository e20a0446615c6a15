package logging_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// A Observer at Info level says nothing about records that were
// delivered, one line about the one that needs a person, and one summary
// per run. Payload fields named in RedactFields never reach the log.
func ExampleObserver() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		// Drop the changing fields, for a stable example output.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	logs, err := logging.NewObserver(logging.Config{
		Logger: logger, LogPayloads: true, RedactFields: []string{"email"},
	})
	if err != nil {
		panic(err)
	}
	store := memstore.New(memstore.Config{})
	partner := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		if m.ID == "cand-2" {
			return &classify.Error{Class: classify.ClassPermanent, Status: 400, Body: "missing field: surname"}
		}
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: partner, Observer: logs})
	if err != nil {
		panic(err)
	}
	_, _ = store.Enqueue(context.Background(),
		delivery.Message{ID: "cand-1", Key: "cand-1", Destination: "ats", Payload: []byte(`{"email":"a@example.com"}`)},
		delivery.Message{ID: "cand-2", Key: "cand-2", Destination: "ats", CorrelationID: "req-7f3a",
			Payload: []byte(`{"email":"b@example.com","name":"Ada"}`)},
	)
	if _, err := d.RunOnce(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// {"level":"ERROR","msg":"dead-lettered","record_id":"cand-2","key":"cand-2","destination":"ats","attempt":1,"class":"permanent","status":400,"cause":"http_400","action":"dead_letter","correlation_id":"req-7f3a","error":"permanent: http 400 Bad Request: body \"missing field: surname\"","payload":"{\"email\":\"[redacted]\",\"name\":\"Ada\"}"}
	// {"level":"INFO","msg":"run finished","claimed":2,"attempted":2,"delivered":1,"duplicates":0,"retried":0,"dead_lettered":1,"discarded":0,"deferred":0,"released":0,"lease_lost":0,"store_errors":0}
}
