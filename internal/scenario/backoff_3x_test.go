package scenario_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 001, backing off: "we implemented a retry mechanism that just
// requeued the message ... consumed immediately by another instance which
// undoubtedly generated the same error. The correct behaviour is to have a
// backing off mechanism ... that increased 3x with each attempt. So after
// the first failure it would retry after 1 minute then the second would be
// after 3 minutes, and then 9 minutes and so on." The lesson: give the
// partner time to recover. A running dispatcher with the default policy,
// measured at the partner's clock in a synctest bubble: retries land exactly
// 1m, 3m and 9m after the failures, and a record that never succeeds is
// tried ten times over a day (1m, 3m, 9m, 27m, 1h21m, 4h3m, then every 6h)
// and then dead-lettered.
func TestRetriesAfter1m3m9m(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true,
			Rules: []deliverytest.Rule{
				{KeyPrefix: "sms-", Responses: deliverytest.Statuses(503, 503, 503), PerKey: true},
				{KeyPrefix: "never-", Responses: deliverytest.Statuses(503), Repeat: true},
			},
		})
		store := memstore.New(memstore.Config{})
		enqueue(t, store, backlog("sms", 5, nil)...)
		enqueue(t, store, backlog("never", 1, nil)...)
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: sender(t, partner, partnerClient(t, partner, 4)), Concurrency: 4,
			PollInterval: 24 * time.Hour, // it wakes when a retry falls due, not by polling
		})
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(25 * time.Hour)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		for _, id := range []string{"sms-00000", "sms-00004"} {
			assert.Equal(t, []time.Duration{0, time.Minute, 4 * time.Minute, 13 * time.Minute}, arrivals(partner, id, start),
				"%s: failures at 0, 1m, 4m, then success at 13m", id)
			r := record(t, store, id)
			assert.Equal(t, delivery.StateDelivered, r.State)
			assert.Equal(t, 4, r.Attempts)
		}
		h, m := time.Hour, time.Minute
		assert.Equal(t, []time.Duration{0, m, 4 * m, 13 * m, 40 * m, 2*h + m, 6*h + 4*m, 12*h + 4*m, 18*h + 4*m, 24*h + 4*m},
			arrivals(partner, "never-00000", start), "gaps 1m, 3m, 9m, 27m, 1h21m, 4h3m, then capped at 6h")
		r := record(t, store, "never-00000")
		assert.Equal(t, delivery.StateDead, r.State, "dead-lettered after the tenth attempt")
		assert.Equal(t, 10, r.Attempts)
	})
}

// arrivals returns when the partner received each request for key, from
// start.
func arrivals(p *deliverytest.Partner, key string, start time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range p.RequestsFor(key) {
		out = append(out, r.Received.Sub(start))
	}
	return out
}
