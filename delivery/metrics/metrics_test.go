package metrics_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/tokencache"
)

var (
	http503 = &classify.Error{Class: classify.ClassEphemeral, Status: 503}
	http409 = &classify.Error{Class: classify.ClassDuplicate, Status: 409}
	http400 = &classify.Error{Class: classify.ClassPermanent, Status: 400}
	http422 = &classify.Error{Class: classify.ClassDiscard, Status: 422}
)

func pl(id string) []byte { return []byte(`{"id":"` + id + `"}`) }

// TestMetricsScenario runs a dispatcher through successes, a duplicate, a
// permanent error, a discard, retries, a health outage and a breaker that
// opens twice, then scrapes the registry and checks every counter and
// gauge.
func TestMetricsScenario(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		m, err := metrics.New(metrics.Config{Store: store})
		require.NoError(t, err)
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(m))

		tokens, err := tokencache.New(tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
			return tokencache.Token{Value: "t", Expiry: time.Now().Add(time.Hour)}, nil
		}), tokencache.Config{Key: "partner", OnEvent: m.TokenEvent})
		require.NoError(t, err)
		defer tokens.Close()
		breaker, err := health.NewCircuitBreaker(health.BreakerConfig{
			Name: "partner", ConsecutiveFailures: 2, OnStateChange: m.BreakerChanged,
		})
		require.NoError(t, err)
		var down atomic.Bool
		monitor, err := health.NewMonitor(health.MonitorConfig{
			Name: "partner", FailureThreshold: 1, SuccessThreshold: 1, OnChange: m.HealthChanged,
			Checker: health.CheckerFunc(func(context.Context) error {
				if down.Load() {
					return errors.New("503")
				}
				return nil
			}),
		})
		require.NoError(t, err)
		sc := newScript().on("dup-1", http409).on("perm-1", http400).on("flaky-1", http503, nil).
			on("bad-1", http422).on("late-1", http503).on("late-2", http503)
		send := delivery.DelivererFunc(func(ctx context.Context, msg *delivery.Message) error {
			if _, err := tokens.Token(ctx); err != nil {
				return err
			}
			return sc.Deliver(ctx, msg)
		})
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
			Store: store, Deliverer: delivery.Chain(send, delivery.WithBreaker(breaker)), Gate: monitor, Observer: m,
		})
		require.NoError(t, err)

		var msgs []delivery.Message
		for _, id := range []string{"ok-1", "dup-1", "perm-1", "flaky-1", "bad-1", "crm-1", "late-1", "late-2"} {
			dest := "ats"
			if id == "crm-1" {
				dest = "crm"
			}
			msgs = append(msgs, delivery.Message{ID: id, Destination: dest, Payload: pl(id)})
		}
		msgs[5].CorrelationID = "req-42"
		_, err = store.Enqueue(context.Background(), msgs...)
		require.NoError(t, err)

		// Run 1: everything is tried once; late-1 and late-2 open the breaker.
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		// Run 2: the partner's health check fails; the gate refuses the
		// first attempt, which pauses the destination: the records claimed
		// with it wait without an attempt (defer).
		down.Store(true)
		time.Sleep(time.Minute)
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		require.True(t, rep.GateClosed)
		// Run 3: healthy again; the pause has ended and a probe goes
		// through the half-open breaker, which closes; the next 503 opens
		// it again and the open breaker pauses the destination.
		down.Store(false)
		time.Sleep(time.Minute)
		rep, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, 3, rep.Claimed)

		const want = `
# HELP outbound_attempts_total Delivery attempts (calls of the Deliverer) by destination, outcome class and cause.
# TYPE outbound_attempts_total counter
outbound_attempts_total{cause="http_400",class="permanent",destination="ats"} 1
outbound_attempts_total{cause="http_409",class="duplicate",destination="ats"} 1
outbound_attempts_total{cause="http_422",class="discard",destination="ats"} 1
outbound_attempts_total{cause="breaker_open",class="unavailable",destination="ats"} 1
outbound_attempts_total{cause="http_503",class="ephemeral",destination="ats"} 4
outbound_attempts_total{cause="ok",class="ok",destination="ats"} 2
outbound_attempts_total{cause="ok",class="ok",destination="crm"} 1
# HELP outbound_actions_total Claimed records by destination and what the dispatcher did with them: delivered, duplicate, retry, dead_letter, discard, defer, release.
# TYPE outbound_actions_total counter
outbound_actions_total{action="dead_letter",destination="ats"} 1
outbound_actions_total{action="defer",destination="ats"} 2
outbound_actions_total{action="delivered",destination="ats"} 2
outbound_actions_total{action="delivered",destination="crm"} 1
outbound_actions_total{action="discard",destination="ats"} 1
outbound_actions_total{action="duplicate",destination="ats"} 1
outbound_actions_total{action="retry",destination="ats"} 4
# HELP outbound_runs_total Dispatcher runs (RunOnce) by result: work (claimed records), idle, gate_closed, or error (claiming or recording outcomes failed).
# TYPE outbound_runs_total counter
outbound_runs_total{result="work"} 3
# HELP outbound_queue_records Records in the store by state (pending, in_flight, delivered, dead, discarded).
# TYPE outbound_queue_records gauge
outbound_queue_records{state="dead"} 1
outbound_queue_records{state="delivered"} 4
outbound_queue_records{state="discarded"} 1
outbound_queue_records{state="in_flight"} 0
outbound_queue_records{state="pending"} 2
# HELP outbound_queue_oldest_pending_seconds Age of the oldest live (pending or in-flight) record, since it was enqueued; 0 when there is none.
# TYPE outbound_queue_oldest_pending_seconds gauge
outbound_queue_oldest_pending_seconds 120
# HELP outbound_queue_oldest_due_seconds How long the longest-waiting due record has been due; 0 when none is due.
# TYPE outbound_queue_oldest_due_seconds gauge
outbound_queue_oldest_due_seconds 0
# HELP outbound_queue_stats_age_seconds How old the reported queue figures are: the time since Store.Stats last answered.
# TYPE outbound_queue_stats_age_seconds gauge
outbound_queue_stats_age_seconds 0
# HELP outbound_breaker_state Circuit breaker state: 0 closed, 1 half-open, 2 open.
# TYPE outbound_breaker_state gauge
outbound_breaker_state{breaker="partner"} 2
# HELP outbound_breaker_transitions_total Circuit breaker state changes by the state entered.
# TYPE outbound_breaker_transitions_total counter
outbound_breaker_transitions_total{breaker="partner",to="closed"} 1
outbound_breaker_transitions_total{breaker="partner",to="half-open"} 1
outbound_breaker_transitions_total{breaker="partner",to="open"} 2
# HELP outbound_health_state Health monitor state: 0 unknown, 1 up, 2 down.
# TYPE outbound_health_state gauge
outbound_health_state{monitor="partner"} 1
# HELP outbound_health_transitions_total Health monitor state changes by the state entered.
# TYPE outbound_health_transitions_total counter
outbound_health_transitions_total{monitor="partner",to="down"} 1
outbound_health_transitions_total{monitor="partner",to="up"} 2
# HELP outbound_token_events_total Token cache events: minted, mint_failed, shared, lock_timeout, store_error, invalidated.
# TYPE outbound_token_events_total counter
outbound_token_events_total{cache="partner",event="minted"} 1
`
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
			"outbound_attempts_total", "outbound_actions_total", "outbound_runs_total",
			"outbound_queue_records", "outbound_queue_oldest_pending_seconds", "outbound_queue_oldest_due_seconds",
			"outbound_queue_stats_age_seconds",
			"outbound_breaker_state", "outbound_breaker_transitions_total",
			"outbound_health_state", "outbound_health_transitions_total", "outbound_token_events_total",
		))
		// No store write failed, and every attempt was timed.
		assert.Zero(t, testutil.CollectAndCount(m, "outbound_settle_errors_total"))
		families := gather(t, reg)
		var timed uint64
		for _, mm := range families["outbound_attempt_duration_seconds"].GetMetric() {
			timed += mm.GetHistogram().GetSampleCount()
		}
		assert.Equal(t, uint64(11), timed)
		assert.Equal(t, float64(time.Now().UnixNano())/1e9, families["outbound_last_run_timestamp_seconds"].GetMetric()[0].GetGauge().GetValue())

		// Exemplars carry the correlation id: the message's, or the record
		// id the dispatcher sends instead.
		assert.Equal(t, "req-42", exemplarOf(t, families["outbound_attempts_total"], "destination", "crm"))
		assert.Equal(t, "flaky-1", exemplarOf(t, families["outbound_attempts_total"], "class", "ok", "destination", "ats"))
		// At most one exemplar per second per series: late-2 failed in the
		// same instant as late-1 and left late-1's in place.
		assert.Equal(t, "late-1", exemplarOf(t, families["outbound_attempts_total"], "class", "ephemeral"))
	})
}

func gather(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// exemplarOf returns the correlation_id exemplar of the counter in mf whose
// labels include the given name/value pairs.
func exemplarOf(t *testing.T, mf *dto.MetricFamily, pairs ...string) string {
	t.Helper()
	require.NotNil(t, mf)
next:
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i < len(pairs); i += 2 {
			if labels[pairs[i]] != pairs[i+1] {
				continue next
			}
		}
		ex := m.GetCounter().GetExemplar()
		require.NotNil(t, ex, "exemplar of %v", labels)
		for _, lp := range ex.GetLabel() {
			if lp.GetName() == "correlation_id" {
				return lp.GetValue()
			}
		}
		return ""
	}
	t.Fatalf("no series with %v", pairs)
	return ""
}
