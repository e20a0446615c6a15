package scenario_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 003, track your failures: "while each incremental ephemeral error is
// usually just noise, we want to know if the rate of ephemeral errors
// changes significantly ... we explicitly track each ephemeral exception
// that we're aware of ... we increment a counter ... This allows us to add
// graphs ... and alerting when the rate of exceptions changes
// significantly." The lesson: ephemeral errors are retried and counted by
// class and cause, and the alert is on a change of rate, not on each error.
// For 40 minutes records arrive steadily and a tenth of them each meet a
// 503, a 429 or a connection cut mid-response, once: all are delivered, the
// counts by cause match what the partner did exactly, and nothing surges.
// Then the partner starts hanging on a third of the requests: within five
// minutes the timeouts surge, and only they do. Nothing is dead-lettered.
func TestEphemeralErrorsCountedNotAlerted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const perMinute = 20
		var degraded atomic.Bool
		number := func(r *deliverytest.Request) int {
			var i int
			_, _ = fmt.Sscanf(r.IdempotencyKey, "cand-%d", &i)
			return i
		}
		once := func(match func(i int) bool, resp deliverytest.Response) deliverytest.Rule {
			return deliverytest.Rule{Match: func(r *deliverytest.Request) bool { return match(number(r)) },
				Responses: []deliverytest.Response{resp}, PerKey: true}
		}
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true, Latency: 50 * time.Millisecond,
			Idempotent: true, // a cut record was processed: its resend is answered "already processed"
			Rules: []deliverytest.Rule{
				once(func(i int) bool { return degraded.Load() && i%3 == 0 }, deliverytest.Hang()),
				once(func(i int) bool { return i%10 == 1 }, deliverytest.Status(503)),
				once(func(i int) bool { return i%10 == 2 }, deliverytest.TooManyRequests(5*time.Second)), // pauses the destination for 5s
				once(func(i int) bool { return i%10 == 4 }, deliverytest.Cut()),
			},
		})
		tracker, err := failures.New(failures.Config{Resolution: time.Minute, History: time.Hour})
		require.NoError(t, err)
		store := memstore.New(memstore.Config{})
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: sender(t, partner, partnerClient(t, partner, 8)), Concurrency: 8,
			AttemptTimeout: 10 * time.Second, Observer: tracker,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		rule := failures.SurgeRule{Recent: 5 * time.Minute, Factor: 3, Min: 5}
		next := 0
		arrive := func(minutes int) {
			for range minutes {
				msgs := make([]delivery.Message, perMinute)
				for j := range msgs {
					id := fmt.Sprintf("cand-%05d", next)
					msgs[j] = delivery.Message{ID: id, Payload: []byte(`{"id":"` + id + `"}`)}
					next++
				}
				enqueue(t, store, msgs...)
				time.Sleep(time.Minute)
			}
		}

		arrive(40) // a steady trickle of ephemeral errors
		synctest.Wait()
		surges, err := tracker.Surges(rule)
		require.NoError(t, err)
		assert.Empty(t, surges, "a steady rate of ephemeral errors raises no alarm")
		steady := tracker.Last(5 * time.Minute)
		assert.Positive(t, steady.Cause("http_503"), "they are still happening, and counted")

		degraded.Store(true)
		arrive(5) // the partner starts hanging
		synctest.Wait()
		surges, err = tracker.Surges(rule)
		require.NoError(t, err)
		require.Len(t, surges, 1, "only the change surges: %+v", surges)
		assert.Equal(t, classify.ClassEphemeral, surges[0].Key.Class)
		assert.Equal(t, "deadline", surges[0].Key.Cause, "the timeouts, and only they, surge")

		degraded.Store(false)
		time.Sleep(time.Hour) // everything due is retried
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		st := stats(t, store)
		assert.EqualValues(t, next, st.Count(delivery.StateDelivered), "every record made it")
		assert.Zero(t, st.Count(delivery.StateDead))
		assert.Equal(t, next, partner.Delivered())
		assert.Empty(t, partner.Reprocessed())

		// The counts by cause are exactly what the partner did.
		did := map[string]int64{}
		for _, r := range partner.Requests() {
			switch {
			case r.Answer.Fault == deliverytest.FaultHang:
				did["deadline"]++
			case r.Answer.Fault == deliverytest.FaultCut:
				did["eof"]++
			case r.Status == 503 || r.Status == 429:
				did[fmt.Sprintf("http_%d", r.Status)]++
			}
		}
		total := tracker.Totals()
		got := map[string]int64{}
		for k, n := range total.Counts {
			if k.Class == classify.ClassEphemeral {
				got[k.Cause] += n
			}
		}
		assert.Equal(t, did, got, "ephemeral errors counted by cause")
		assert.Equal(t, total.Class(classify.ClassEphemeral), total.Failed(), "every failure was ephemeral")
		t.Logf("%d records; ephemeral errors by cause: %v", next, got)
	})
}
