package scenario_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 000 §2, hammering the partner: "the 3rd Party API was getting
// hammered with the amount of requests we had to process ... The solution
// was to simply limit the number of requests that we sent to 100 per run".
// The lesson: a run is bounded, and what the partner can take is a rate,
// held however many workers send. Measured where it matters, at the
// partner: one run sends exactly MaxPerRun requests, and over the whole
// drain no window of time sees more than burst + rate × window requests.
func TestRunCapAndRateLimitSpareThePartner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records, perRun, workers = 1000, 100, 8
		const perSecond, burst = 20, 5
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: true, Latency: 10 * time.Millisecond})
		store := memstore.New(memstore.Config{})
		enqueue(t, store, backlog("cand", records, nil)...)
		var obs deliverytest.Observer
		send := delivery.Chain(sender(t, partner, partnerClient(t, partner, workers)),
			delivery.WithRateLimit(rate.NewLimiter(perSecond, burst)))
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: send, Concurrency: workers, MaxPerRun: perRun, Observer: &obs,
		})

		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, perRun, rep.Delivered)
		assert.Equal(t, perRun, partner.Stats().Requests, "one run: exactly MaxPerRun requests reach the partner")

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		assert.EqualValues(t, records, stats(t, store).Count(delivery.StateDelivered))
		for i, r := range obs.Runs() {
			require.LessOrEqual(t, r.Claimed, perRun, "run %d claimed more than MaxPerRun", i)
		}
		reqs := partner.Requests()
		require.Len(t, reqs, records)
		// Every window [reqs[i], reqs[j]] holds j-i+1 requests; the limiter
		// allows at most burst + rate × width of them.
		// In whole nanoseconds: (n - burst) × 1s <= rate × width, with a
		// microsecond of slack because x/time/rate computes its grant times
		// in float64 seconds and lands some a nanosecond early.
		for i := range reqs {
			for j := i; j < len(reqs); j++ {
				width := reqs[j].Received.Sub(reqs[i].Received) + time.Microsecond
				if n := j - i + 1; time.Duration(n-burst)*time.Second > perSecond*width {
					t.Fatalf("%d requests within %v (requests %d..%d): more than burst %d + %d/s allow",
						n, width, i, j, burst, perSecond)
				}
			}
		}
		span := reqs[len(reqs)-1].Received.Sub(reqs[0].Received)
		assert.GreaterOrEqual(t, span, time.Duration(float64(records-burst)/perSecond*float64(time.Second)),
			"the partner received the backlog at the limited rate")
		t.Logf("%d runs; the partner received %d requests over %v (limit %d/s, burst %d)", len(obs.Runs()), len(reqs), span, perSecond, burst)
	})
}
