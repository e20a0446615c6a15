package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// events are what happens to an order, in order.
var events = [...]string{"created", "paid", "packed", "shipped", "delivered", "reviewed"}

// demoReport is what the demo saw.
type demoReport struct {
	accepted, duplicates int           // 202 answers, and how many were for a webhook already buffered
	acceptedWhileDown    int           // 202 answers while the backend was down
	slowestAnswer        time.Duration // the longest any sender waited for its 202
	forwarded            int           // webhooks the backend holds
	outOfOrder           int           // groups the backend received out of order
	backendRequests      int           // requests the backend received, retries included
	peakBackendInFlight  int
}

// demo starts a fake backend that is down at first and then fails some
// webhooks once, puts the buffer in front of it, sends webhooks for many
// orders at once (each order's events in sequence), and checks that the
// backend received every order's events once and in order.
func demo(ctx context.Context, o options, out io.Writer) (*demoReport, error) {
	backendCfg := deliverytest.PartnerConfig{
		Latency: 3 * time.Millisecond,
		Rules: []deliverytest.Rule{{ // every 7th webhook fails once
			Match:     func(r *deliverytest.Request) bool { return strings.HasSuffix(r.IdempotencyKey, "7") },
			Responses: deliverytest.Statuses(http.StatusBadGateway), PerKey: true,
		}},
		Idempotent: true,
	}
	if o.backendOutage > 0 {
		backendCfg.Outage = deliverytest.Outage{For: o.backendOutage} // down from the start
	}
	backend, err := deliverytest.NewPartner(backendCfg)
	if err != nil {
		return nil, err
	}
	defer backend.Close()

	outbox := memstore.New(memstore.Config{})
	buffer := httptest.NewServer(&Buffer{outbox: outbox, log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer buffer.Close()
	fwd, err := NewForwarder(ForwarderConfig{
		Outbox: outbox, Backend: backend.URL + "/hooks", Workers: 8,
		Backoff: demoBackoff(o.unit), BreakerOpen: 10 * o.unit, PollInterval: 5 * o.unit,
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fwd.Run(runCtx) }()

	fmt.Fprintf(out, "buffer at %s forwarding to %s\n", buffer.URL, backend.URL+"/hooks")
	rep := &demoReport{}
	start := time.Now()
	senders := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer senders.CloseIdleConnections()
	if err := sendAll(ctx, o, senders, buffer.URL+"/webhooks", backend, rep); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%d webhooks for %d orders accepted (202) in %v; the slowest answer took %v; %d while the backend was down\n",
		rep.accepted, o.groups, time.Since(start).Round(time.Millisecond), rep.slowestAnswer.Round(time.Microsecond), rep.acceptedWhileDown)

	waitErr := waitForwarded(ctx, outbox, o.timeout)
	cancel()
	if err := <-done; err != nil {
		return nil, err
	}
	rep.forwarded = backend.Delivered()
	rep.backendRequests = backend.Stats().Requests
	rep.peakBackendInFlight = backend.PeakInFlight()
	rep.outOfOrder = outOfOrder(backend.Requests())
	fmt.Fprintf(out, "the backend holds %d of %d webhooks after %d requests (retries included), at most %d at once, in %v\n",
		rep.forwarded, o.webhooks, rep.backendRequests, rep.peakBackendInFlight, time.Since(start).Round(time.Millisecond))
	if rep.outOfOrder == 0 {
		fmt.Fprintln(out, "every order's events reached the backend in order")
	} else {
		fmt.Fprintf(out, "%d orders reached the backend OUT OF ORDER\n", rep.outOfOrder)
	}
	switch {
	case waitErr != nil:
		return rep, waitErr
	case rep.forwarded != o.webhooks:
		return rep, fmt.Errorf("the backend holds %d of %d webhooks", rep.forwarded, o.webhooks)
	case rep.outOfOrder > 0:
		return rep, fmt.Errorf("%d orders out of order", rep.outOfOrder)
	}
	return rep, nil
}

// sendAll posts the webhooks: one sender per order, each posting its
// order's events in sequence, all orders at once. The first webhook is
// posted twice, as a sender that missed the answer would.
func sendAll(ctx context.Context, o options, client *http.Client, url string, backend *deliverytest.Partner, rep *demoReport) error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for g := range o.groups {
		wg.Go(func() {
			for i := g; i < o.webhooks; i += o.groups {
				n := i / o.groups
				group := fmt.Sprintf("order-%03d", g)
				id := fmt.Sprintf("%s-%04d", group, n)
				body := fmt.Sprintf(`{"order":%q,"seq":%d,"event":%q}`, group, n, events[n%len(events)])
				times := 1
				if i == 0 {
					times = 2
				}
				for range times {
					down := backend.Down()
					took, dup, err := post(ctx, client, url, group, id, body)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					} else {
						rep.accepted++
						if dup {
							rep.duplicates++
						}
						if down {
							rep.acceptedWhileDown++
						}
						rep.slowestAnswer = max(rep.slowestAnswer, took)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d webhooks not accepted, e.g. %w", len(errs), errs[0])
	}
	return nil
}

// post sends one webhook and returns how long the 202 took and whether the
// buffer already had it.
func post(ctx context.Context, client *http.Client, url, group, id, body string) (time.Duration, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(GroupHeader, group)
	req.Header.Set(WebhookIDHeader, id)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusAccepted {
		return took, false, fmt.Errorf("webhook %s: %s: %s", id, resp.Status, answer)
	}
	return took, strings.Contains(string(answer), `"duplicate":true`), nil
}

func waitForwarded(ctx context.Context, outbox delivery.Store, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := outbox.Stats(ctx); err == nil && st.Count(delivery.StatePending)+st.Count(delivery.StateInFlight) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("webhooks still waiting to be forwarded: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// outOfOrder counts the groups whose webhooks the backend processed out of
// sequence.
func outOfOrder(reqs []deliverytest.Request) int {
	next := map[string]int{}
	bad := map[string]bool{}
	for _, r := range reqs {
		if !r.Processed {
			continue
		}
		group := r.Header.Get(GroupHeader)
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(r.IdempotencyKey, group+"-"), "%d", &n); err != nil || n != next[group] {
			bad[group] = true
		}
		next[group] = n + 1
	}
	return len(bad)
}
