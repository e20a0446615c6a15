package scenario_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 001, fail early: "Previously, we handled all failures the same, just
// requeued the message and then eventually completely failed. Soon though,
// we found a number of issues that should not have been retried such as a
// lack of credit on the account." The lesson: a permanent error is
// dead-lettered at once, with the partner's words, and reported, so the rest
// of the traffic flows and someone hears about it now rather than after a
// day of retries.
func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true,
			Rules: []deliverytest.Rule{{
				Key:       "sms-00007",
				Responses: []deliverytest.Response{{Status: http.StatusPaymentRequired, Body: `{"error":"insufficient credit on the account"}`}},
				Repeat:    true,
			}},
		})
		store := memstore.New(memstore.Config{})
		enqueue(t, store, backlog("sms", 50, nil)...)
		var obs deliverytest.Observer
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: sender(t, partner, partnerClient(t, partner, 4)), Concurrency: 4, Observer: &obs,
			PollInterval: time.Hour,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()

		runs := obs.Runs()
		require.NotEmpty(t, runs)
		assert.Equal(t, 1, runs[0].DeadLettered, "dead-lettered in the first run")
		assert.Equal(t, 49, runs[0].Delivered, "the rest went all the way through")
		var reported []delivery.AttemptEvent
		for _, e := range obs.Events() {
			if e.Action == delivery.ActionDeadLetter {
				reported = append(reported, e)
			}
		}
		require.Len(t, reported, 1, "the observer hears about it at once")
		assert.Equal(t, "sms-00007", reported[0].Record.ID)
		assert.Equal(t, classify.ClassPermanent, reported[0].Class())
		assert.Equal(t, "http_402", reported[0].Cause)

		time.Sleep(24 * time.Hour)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		r := record(t, store, "sms-00007")
		assert.Equal(t, delivery.StateDead, r.State)
		assert.Equal(t, 1, r.Attempts, "never retried")
		assert.Contains(t, r.LastAttempt.Error, "insufficient credit", "the dead letter says why, in the partner's words")
		assert.Len(t, partner.RequestsFor("sms-00007"), 1, "the partner was asked once in a day")
		dead, err := store.List(context.Background(), delivery.ListOptions{State: delivery.StateDead})
		require.NoError(t, err)
		assert.Len(t, dead.Records, 1)
		assert.EqualValues(t, 49, stats(t, store).Count(delivery.StateDelivered))
	})
}
