package main

import (
	"context"
	"fmt"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/webhook"
	"github.com/outbound-go/outbound/retry"
)

// deliverAll enqueues o.events events and runs a Dispatcher until the
// outbox is empty. Its deliverer's client signs every attempt.
func deliverAll(ctx context.Context, signer *webhook.Signer, url string, o options) (*summary, error) {
	client, err := httpclient.New(httpclient.Config{}) // BlockPrivateAddresses: true when endpoints come from users
	if err != nil {
		return nil, err
	}
	client.Transport = &webhook.Transport{Base: client.Transport, Signer: signer}
	defer client.CloseIdleConnections()
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(url, "application/json")})
	if err != nil {
		return nil, err
	}
	outbox := memstore.New(memstore.Config{})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:        outbox,
		Deliverer:    send,
		Policy:       retry.Policy{Backoff: retry.Constant(o.retryAfter), MaxAttempts: 5},
		Concurrency:  4,
		PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	msgs := make([]delivery.Message, o.events)
	for i := range msgs {
		id := fmt.Sprintf("evt-%03d", i+1)
		msgs[i] = delivery.Message{ID: id, Payload: fmt.Appendf(nil, `{"type":"invoice.paid","data":{"invoice":%q}}`, "inv-"+id[4:])}
	}
	if _, err := outbox.Enqueue(ctx, msgs...); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	waitErr := waitDelivered(ctx, outbox, 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		return nil, err
	}
	if waitErr != nil {
		return nil, waitErr
	}
	return &summary{enqueued: len(msgs)}, nil
}

// waitDelivered waits until no record is pending or in flight.
func waitDelivered(ctx context.Context, outbox delivery.Store, timeout time.Duration) error {
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
			return fmt.Errorf("events still waiting to be delivered: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
