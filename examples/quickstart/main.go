// Command quickstart delivers a handful of messages to a local partner
// through the HTTP deliverer and prints what happened to each.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	partner := newPartner()
	defer partner.Close()

	client, err := delivery.NewClient(delivery.ClientConfig{MaxConnsPerHost: 4})
	if err != nil {
		return err
	}
	send, err := delivery.NewHTTPDeliverer(delivery.HTTPConfig{
		Client: client,
		Build:  delivery.PostTo(partner.URL+"/candidates", "application/json"),
	})
	if err != nil {
		return err
	}
	d := delivery.Chain(send, delivery.WithTimeout(2*time.Second))

	ids := []string{"cand-1", "cand-2", "flaky-3", "cand-4", "invalid-5"}
	ctx := context.Background()
	delivered := 0
	for _, id := range ids {
		m := &delivery.Message{ID: id, Payload: []byte(`{"candidate":"` + id + `"}`)}
		var err error
		for m.Attempt = 1; m.Attempt <= 3; m.Attempt++ {
			err = d.Deliver(ctx, m)
			if !classify.Of(err).Retryable() {
				break
			}
			fmt.Printf("  %-10s attempt %d: %v, retrying\n", id, m.Attempt, err)
			time.Sleep(50 * time.Millisecond) // demo backoff; the dispatcher stores real schedules
		}
		if err == nil {
			delivered++
		}
		fmt.Printf("%-10s %-9s %s\n", id, classify.Of(err), describe(err))
	}
	fmt.Printf("\n%d of %d delivered; partner saw %d requests\n", delivered, len(ids), partner.requests())
	if delivered != 4 {
		return fmt.Errorf("expected 4 deliveries, got %d", delivered)
	}
	return nil
}

func describe(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}

type partner struct {
	*httptest.Server
	mu    sync.Mutex
	seen  map[string]int
	total int
}

func (p *partner) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// newPartner starts a local partner: flaky-* fails once with 503, invalid-*
// is rejected with 400, everything else is accepted.
func newPartner() *partner {
	p := &partner{seen: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		p.mu.Lock()
		p.seen[key]++
		p.total++
		n := p.seen[key]
		p.mu.Unlock()
		switch {
		case strings.HasPrefix(key, "flaky-") && n == 1:
			http.Error(w, "try again", http.StatusServiceUnavailable)
		case strings.HasPrefix(key, "invalid-"):
			http.Error(w, `{"error":"candidate has no email"}`, http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	return p
}
