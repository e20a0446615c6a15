package scenario_test

import (
	"context"
	"sync/atomic"
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

// Seed 004, the flapping connection: "a TCP connection between our load
// balancing tier and our application servers would be established and then
// traffic would begin to flow over that connection only to have the
// connection terminate unexpectedly ... because the connection was flapping
// on and off ... This caused many requests to fail while others would
// succeed." The lesson: a link that half works must neither be hammered nor
// trusted on every blip. For 30 minutes every other request and every other
// health check to the partner dies mid-response. A circuit breaker (which
// trips on the failure ratio and needs 3 good calls in a row to close) keeps
// the failed attempts bounded by its settings, not by the backlog, and a
// health monitor with hysteresis (3 failures to go down, 2 successes to come
// up) does not toggle with every probe. Nothing is dead-lettered. The same
// backlog sent without them fails several times as often, and a monitor
// without hysteresis changes its mind on nearly every probe.
func TestFlappingConnectionIsBounded(t *testing.T) {
	const records, workers = 500, 8
	const flapping = 30 * time.Minute
	breakerCfg := health.BreakerConfig{
		Name: "mesh", ConsecutiveFailures: 3, FailureRatio: 0.3, MinRequests: 6,
		OpenTimeout: time.Minute, HalfOpenRequests: 3,
	}
	synctest.Test(t, func(t *testing.T) {
		protected := runFlapping(t, records, workers, flapping, &breakerCfg, 3, 2)
		naive := runFlapping(t, records, workers, flapping, nil, 1, 1)

		// A trip needs at most MinRequests outcomes, plus what the other
		// workers had in flight; after that, each OpenTimeout lets at most
		// HalfOpenRequests calls through, of which every other one fails.
		bound := breakerCfg.MinRequests + workers + (int(flapping/breakerCfg.OpenTimeout)+1)*breakerCfg.HalfOpenRequests
		assert.Positive(t, protected.failed, "the flapping was felt")
		assert.LessOrEqual(t, protected.failed, bound, "the breaker bounds the failed attempts")
		assert.Zero(t, protected.dead, "nothing dead-lettered")
		assert.Equal(t, 1, protected.monitorChanges, "hysteresis: up once, and never flipped by a lone failed probe")

		assert.Greater(t, naive.failed, 3*protected.failed, "without a breaker the link is hammered")
		assert.Greater(t, naive.monitorChanges, int(flapping/time.Minute), "without hysteresis the monitor flips with the probes")
		t.Logf("protected: %d failed attempts (bound %d), %d monitor changes; naive: %d failed, %d dead, %d monitor changes",
			protected.failed, bound, protected.monitorChanges, naive.failed, naive.dead, naive.monitorChanges)
	})
}

type flapOutcome struct {
	failed, dead   int
	monitorChanges int
}

// runFlapping sends a backlog to a partner whose connections flap for a
// while, through a dispatcher gated by a monitor with the given thresholds
// and, if cfg is not nil, a circuit breaker; it returns what it cost.
func runFlapping(t *testing.T, records, workers int, flapping time.Duration, cfg *health.BreakerConfig, failAt, succeedAt int) flapOutcome {
	t.Helper()
	partner, err := deliverytest.NewPartner(deliverytest.PartnerConfig{
		InMemory: true, Latency: 20 * time.Millisecond, Idempotent: true, FlapEvery: 2,
	})
	require.NoError(t, err)
	defer partner.Close()
	client := partnerClient(t, partner, workers)
	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{URL: partner.HealthURL(), Client: client, Validate: health.JSONField("status", "ok")})
	require.NoError(t, err)
	var changes atomic.Int32
	mon, err := health.NewMonitor(health.MonitorConfig{
		Name: "mesh", Checker: checker, Interval: 30 * time.Second,
		FailureThreshold: failAt, SuccessThreshold: succeedAt,
		OnChange: func(health.Change) { changes.Add(1) },
	})
	require.NoError(t, err)
	gcfg := health.GateConfig{Monitor: mon}
	send := delivery.Deliverer(sender(t, partner, client))
	if cfg != nil {
		br, err := health.NewCircuitBreaker(*cfg)
		require.NoError(t, err)
		gcfg.Breaker = br
		send = delivery.Chain(send, delivery.WithBreaker(br))
	}
	gate, err := health.NewGate(gcfg)
	require.NoError(t, err)
	store := memstore.New(memstore.Config{})
	enqueue(t, store, backlog("req", records, nil)...)
	var obs deliverytest.Observer
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: send, Gate: gate, Concurrency: workers, Observer: &obs,
		PollInterval: 10 * time.Second})

	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, mon.Start(ctx))
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(flapping)
	partner.SetFlapping(0) // the mesh network is removed
	time.Sleep(6 * time.Hour)
	synctest.Wait()
	cancel()
	require.NoError(t, <-done)
	mon.Stop()

	st := stats(t, store)
	assert.EqualValues(t, records, st.Count(delivery.StateDelivered)+st.Count(delivery.StateDead), "every record settled")
	assert.Equal(t, int(st.Count(delivery.StateDelivered)), partner.Delivered())
	assert.Empty(t, partner.Reprocessed(), "resends of records cut after processing were answered as duplicates")
	assert.Equal(t, obs.Classes()[classify.ClassEphemeral], partner.Stats().Flapped, "every failed attempt was a flapped connection")
	return flapOutcome{
		failed:         obs.Classes()[classify.ClassEphemeral],
		dead:           int(st.Count(delivery.StateDead)),
		monitorChanges: int(changes.Load()),
	}
}
