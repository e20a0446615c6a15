package scenario_test

import (
	"context"
	"fmt"
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

// Seed 003, track your failures: "while each incremental ephemeral error is
// usually just noise, we want to know if the rate of ephemeral errors
// changes significantly ... we explicitly track each ephemeral exception
// that we're aware of ... we increment a counter in Redis to keep track of
// the number of exceptions we've seen." The lesson: ephemeral errors are
// retried and counted by class and cause, not reported one by one. A
// partner fails a tenth of the records each with a 503, a 429, a hang (a
// timeout here) and a connection cut mid-response; every record is
// delivered, nothing is dead-lettered, and the counts by cause are exactly
// what the partner did.
func TestSeed003TrackFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records = 200
		every := func(n int) func(*deliverytest.Request) bool {
			return func(r *deliverytest.Request) bool {
				var i int
				_, _ = fmt.Sscanf(r.IdempotencyKey, "cand-%d", &i)
				return i%10 == n
			}
		}
		once := func(n int, resp deliverytest.Response) deliverytest.Rule {
			return deliverytest.Rule{Match: every(n), Responses: []deliverytest.Response{resp}, PerKey: true}
		}
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true, Latency: 50 * time.Millisecond,
			Idempotent: true, // a cut record was processed: its resend is answered "already processed"
			Rules: []deliverytest.Rule{
				once(1, deliverytest.Status(503)),
				once(2, deliverytest.TooManyRequests(2*time.Minute)),
				once(3, deliverytest.Hang()),
				once(4, deliverytest.Cut()),
			},
		})
		store := memstore.New(memstore.Config{})
		enqueue(t, store, backlog("cand", records, nil)...)
		var obs deliverytest.Observer
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: sender(t, partner, partnerClient(t, partner, 8)), Concurrency: 8,
			AttemptTimeout: 10 * time.Second, Observer: &obs,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		st := stats(t, store)
		assert.EqualValues(t, records, st.Count(delivery.StateDelivered), "every record made it")
		assert.Zero(t, st.Count(delivery.StateDead))
		per := records / 10
		assert.Equal(t, map[string]int{"http_503": per, "http_429": per, "deadline": per, "eof": per},
			obs.Causes(classify.ClassEphemeral), "ephemeral errors counted by cause")
		assert.Equal(t, records-per, obs.Classes()[classify.ClassOK])
		assert.Equal(t, per, obs.Classes()[classify.ClassDuplicate], "the cut records were processed: their resends are duplicates")
		assert.Equal(t, records, partner.Delivered())
		assert.Empty(t, partner.Reprocessed())
		for _, id := range []string{"cand-00002", "cand-00012"} {
			reqs := partner.RequestsFor(id)
			require.Len(t, reqs, 2)
			assert.GreaterOrEqual(t, reqs[1].Received.Sub(reqs[0].Received), 2*time.Minute, "%s: the 429's Retry-After was honoured", id)
		}
	})
}
