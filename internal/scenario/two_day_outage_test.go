package scenario_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/health"
)

// Seed 000 §5, the two-day outage: "this basic check would have saved us in
// the case of an outage the Cappfinity API had for 2 days. In that time,
// Koru was firing requests at the Cappfinity API, getting no response and
// failing them accordingly ... such a headache to get them to submit again".
// The lesson: don't submit to a partner that is down; records wait, they do
// not fail. A health monitor on the partner's health endpoint (validated:
// "return 200" endpoints lie) and a circuit breaker gate a dispatcher
// through a 48-hour outage, in a synctest bubble over the partner's
// in-memory network.
func TestTwoDayOutageFailsNothing(t *testing.T) {
	const records, outage = 1000, 48 * time.Hour
	const probeEvery = time.Minute

	// The partner is already down when the backlog arrives: not one
	// request, not one attempt, no dead letter; then the backlog drains
	// with exactly one attempt per record.
	t.Run("DownBeforeTheBacklog", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{InMemory: true, Latency: 20 * time.Millisecond})
			partner.SetDown(true)
			o := startOutagePipeline(t, partner, probeEvery)
			enqueue(t, o.store, backlog("cand", records, nil)...)

			time.Sleep(outage)
			synctest.Wait()
			st := stats(t, o.store)
			assert.Zero(t, partner.Stats().Requests, "no request reached the partner during the outage")
			assert.EqualValues(t, records, st.Count(delivery.StatePending), "the backlog waits")
			assert.Zero(t, st.Count(delivery.StateDead), "nothing dead-lettered")
			assert.Zero(t, o.obs.Classes()[classify.ClassEphemeral], "no attempt failed")
			for _, r := range o.all(t) {
				require.Zero(t, r.Attempts, "record %s spent an attempt", r.ID)
			}
			o.assertProbesBounded(t, partner, outage, probeEvery)

			partner.SetDown(false)
			time.Sleep(10 * time.Minute)
			synctest.Wait()
			assert.EqualValues(t, records, stats(t, o.store).Count(delivery.StateDelivered), "the backlog drained after recovery")
			for _, r := range o.all(t) {
				require.Equal(t, 1, r.Attempts, "record %s: exactly one attempt, the outage cost none", r.ID)
			}
			assert.Equal(t, records, partner.Delivered())
			assert.Equal(t, records, partner.Stats().Requests)
			o.stop()
		})
	})

	// The partner goes down in the middle of the backlog: the breaker stops
	// the bleeding within a handful of failed attempts, the monitor then
	// keeps the gate shut for two days, and nothing dies.
	t.Run("DownMidBacklog", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
				InMemory: true, Latency: 20 * time.Millisecond,
				Outage: deliverytest.Outage{AfterRequests: 300, For: outage},
			})
			o := startOutagePipeline(t, partner, probeEvery)
			enqueue(t, o.store, backlog("cand", records, nil)...)

			time.Sleep(outage - time.Minute)
			synctest.Wait()
			require.True(t, partner.Down())
			st := stats(t, o.store)
			assert.Zero(t, st.Count(delivery.StateDead), "nothing dead-lettered")
			assert.EqualValues(t, 300, st.Count(delivery.StateDelivered), "delivered before the outage")
			failed := o.obs.Classes()[classify.ClassEphemeral]
			// The breaker trips on its 5th failure in a row; by then each
			// of the other workers may have one more attempt under way.
			// Then one half-open probe per breaker timeout (1m) until the
			// monitor's 3 failed probes (1m apart) close the gate for good.
			bound := 5 + (o.concurrency - 1) + 3
			assert.Positive(t, failed, "the outage was noticed by real attempts")
			assert.LessOrEqual(t, failed, bound, "the breaker and the gate bound the failed attempts")
			assert.Equal(t, failed, partner.Stats().OutageAnswers)
			o.assertProbesBounded(t, partner, outage, probeEvery)

			time.Sleep(10 * time.Minute) // the outage ends, and the monitor sees it
			synctest.Wait()
			st = stats(t, o.store)
			assert.EqualValues(t, records, st.Count(delivery.StateDelivered), "the backlog drained after recovery")
			assert.Zero(t, st.Count(delivery.StateDead))
			assert.Equal(t, records, partner.Delivered())
			var at []time.Duration
			for _, r := range partner.Requests() {
				if r.Outage {
					at = append(at, r.Received.Sub(partner.Requests()[0].Received).Round(time.Millisecond))
				}
			}
			t.Logf("%d failed attempts during a %v outage, at %v; %d health probes", failed, outage, at, partner.Stats().HealthChecks)
			o.stop()
		})
	})
}

// outagePipeline is a dispatcher gated by a health monitor on the
// partner's health endpoint and by a circuit breaker.
type outagePipeline struct {
	store       *memstore.Store
	obs         *deliverytest.Observer
	concurrency int
	monitor     *health.Monitor
	cancel      context.CancelFunc
	done        chan error
}

func startOutagePipeline(t *testing.T, partner *deliverytest.Partner, probeEvery time.Duration) *outagePipeline {
	t.Helper()
	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{
		URL: partner.HealthURL(), Client: partner.Client(),
		Validate: health.JSONField("status", "ok"),
	})
	require.NoError(t, err)
	mon, err := health.NewMonitor(health.MonitorConfig{
		Name: "cappfinity", Checker: checker, Interval: probeEvery,
		FailureThreshold: 3, SuccessThreshold: 2,
	})
	require.NoError(t, err)
	br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "cappfinity", ConsecutiveFailures: 5, OpenTimeout: time.Minute})
	require.NoError(t, err)
	gate, err := health.NewGate(health.GateConfig{Monitor: mon, Breaker: br})
	require.NoError(t, err)

	o := &outagePipeline{store: memstore.New(memstore.Config{}), obs: &deliverytest.Observer{}, concurrency: 8, monitor: mon, done: make(chan error, 1)}
	d := newDispatcher(t, delivery.DispatcherConfig{
		Store:       o.store,
		Deliverer:   delivery.Chain(sender(t, partner, partnerClient(t, partner, 8)), delivery.WithBreaker(br)),
		Gate:        gate,
		Concurrency: o.concurrency,
		Observer:    o.obs,
	})
	var ctx context.Context
	ctx, o.cancel = context.WithCancel(context.Background())
	require.NoError(t, mon.Start(ctx))
	go func() { o.done <- d.Run(ctx) }()
	return o
}

func (o *outagePipeline) stop() {
	o.cancel()
	<-o.done
	o.monitor.Stop()
}

func (o *outagePipeline) all(t *testing.T) []delivery.Record {
	t.Helper()
	var out []delivery.Record
	for after := ""; ; {
		page, err := o.store.List(context.Background(), delivery.ListOptions{Limit: delivery.MaxPageSize, After: after})
		require.NoError(t, err)
		out = append(out, page.Records...)
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// assertProbesBounded checks that the partner's health endpoint was probed
// on the monitor's schedule, not once per record or per run.
func (o *outagePipeline) assertProbesBounded(t *testing.T, partner *deliverytest.Partner, d, every time.Duration) {
	t.Helper()
	assert.LessOrEqual(t, partner.Stats().HealthChecks, int(d/every)+2, "health probes follow the interval")
}
