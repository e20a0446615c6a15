package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/metrics"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/tokencache"
)

func newMetrics(t *testing.T, cfg metrics.Config) (*metrics.Collector, *prometheus.Registry) {
	t.Helper()
	m, err := metrics.New(cfg)
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	return m, reg
}

func attempt(id, dest string, class classify.Class, cause string) delivery.AttemptEvent {
	return delivery.AttemptEvent{
		Record:    delivery.Record{Message: delivery.Message{ID: id, Destination: dest}},
		Attempted: true, Attempt: delivery.Attempt{Class: class, Duration: 20 * time.Millisecond},
		Cause: cause, Action: delivery.ActionRetry,
	}
}

func TestLabelValuesAreBounded(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{MaxLabelValues: 3})
	ctx := context.Background()
	for i := range 50 {
		m.ObserveAttempt(ctx, attempt(fmt.Sprint("r", i), fmt.Sprint("dest-", i), classify.ClassEphemeral, fmt.Sprint("http_5", i)))
		m.BreakerChanged(fmt.Sprint("host-", i), health.BreakerClosed, health.BreakerOpen)
		m.HealthChanged(health.Change{Name: fmt.Sprint("mon-", i), To: health.StateDown})
		m.TokenEvent(tokencache.Event{Kind: tokencache.EventMinted, Key: fmt.Sprint("cache-", i)})
	}
	// Three values each, then Other.
	assert.Equal(t, 4, testutil.CollectAndCount(m, "outbound_actions_total"))
	assert.Equal(t, 4, testutil.CollectAndCount(m, "outbound_attempts_total"),
		"dest-0..2 with causes http_50..52, then destination and cause Other")
	assert.Equal(t, 4, testutil.CollectAndCount(m, "outbound_breaker_state"))
	assert.Equal(t, 4, testutil.CollectAndCount(m, "outbound_health_state"))
	assert.Equal(t, 4, testutil.CollectAndCount(m, "outbound_token_events_total"))
	fams := gather(t, reg)
	var other float64
	for _, mm := range fams["outbound_actions_total"].GetMetric() {
		for _, lp := range mm.GetLabel() {
			if lp.GetName() == "destination" && lp.GetValue() == metrics.Other {
				other = mm.GetCounter().GetValue()
			}
		}
	}
	assert.Equal(t, float64(47), other, "nothing is lost: the overflow is counted under Other")

	// No record id, key or correlation id is ever a label.
	for name, mf := range fams {
		for _, mm := range mf.GetMetric() {
			for _, lp := range mm.GetLabel() {
				assert.NotContains(t, []string{"id", "record_id", "key", "correlation_id"}, lp.GetName(), name)
			}
		}
	}
}

func TestExemplarsFitTheLimitAndCanBeTurnedOff(t *testing.T) {
	long := strings.Repeat("é", 300) // valid, but far beyond 128 runes
	m, reg := newMetrics(t, metrics.Config{})
	e := attempt("r", "ats", classify.ClassOK, "ok")
	e.Record.CorrelationID = long
	m.ObserveAttempt(context.Background(), e) // must not panic
	id := exemplarOf(t, gather(t, reg)["outbound_attempts_total"])
	assert.Equal(t, prometheus.ExemplarMaxRunes-len("correlation_id"), utf8.RuneCountInString(id))
	assert.True(t, strings.HasPrefix(long, id))

	e.Record.CorrelationID = "bad\xffutf8"
	m.ObserveAttempt(context.Background(), e) // an invalid id is left out, not a panic
	mf := gather(t, reg)["outbound_attempts_total"]
	require.Len(t, mf.GetMetric(), 1)
	assert.Equal(t, float64(2), mf.GetMetric()[0].GetCounter().GetValue())

	off, reg2 := newMetrics(t, metrics.Config{DisableExemplars: true})
	off.ObserveAttempt(context.Background(), attempt("r", "ats", classify.ClassOK, "ok"))
	mf = gather(t, reg2)["outbound_attempts_total"]
	require.Len(t, mf.GetMetric(), 1)
	assert.Nil(t, mf.GetMetric()[0].GetCounter().GetExemplar())
}

func TestExemplarInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, reg := newMetrics(t, metrics.Config{ExemplarInterval: 10 * time.Second})
		observe := func(id string) string {
			e := attempt(id, "ats", classify.ClassEphemeral, "timeout")
			e.Attempt.StartedAt = time.Now().Add(-e.Attempt.Duration)
			m.ObserveAttempt(context.Background(), e)
			return exemplarOf(t, gather(t, reg)["outbound_attempts_total"])
		}
		assert.Equal(t, "a", observe("a"))
		time.Sleep(9 * time.Second)
		assert.Equal(t, "a", observe("b"), "within the interval the exemplar is kept")
		time.Sleep(time.Second)
		assert.Equal(t, "c", observe("c"))
		// Other series have their own interval.
		m.ObserveAttempt(context.Background(), attempt("d", "crm", classify.ClassEphemeral, "timeout"))
		assert.Equal(t, "d", exemplarOf(t, gather(t, reg)["outbound_attempts_total"], "destination", "crm"))
		fams := gather(t, reg)["outbound_attempt_duration_seconds"]
		var n uint64
		for _, s := range fams.GetMetric() {
			n += s.GetHistogram().GetSampleCount()
		}
		assert.Equal(t, uint64(4), n, "every attempt is timed, exemplar or not")
	})
}

func TestObserveRunAndSettleErrors(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	ctx := context.Background()
	end := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m.ObserveRun(ctx, delivery.Report{})
	m.ObserveRun(ctx, delivery.Report{GateClosed: true, GateErr: errors.New("down")})
	m.ObserveRun(ctx, delivery.Report{Claimed: 3, Started: end.Add(-2 * time.Second), Duration: 2 * time.Second})
	e := attempt("r", "ats", classify.ClassOK, "ok")
	e.Action = delivery.ActionDelivered
	e.StoreErr = fmt.Errorf("settle: %w", delivery.ErrLeaseLost)
	m.ObserveAttempt(ctx, e)
	e.StoreErr = errors.New("connection refused")
	m.ObserveAttempt(ctx, e)
	// A deferral by the dispatcher's gate is an action, not an attempt.
	m.ObserveAttempt(ctx, delivery.AttemptEvent{
		Record:  delivery.Record{Message: delivery.Message{ID: "g", Destination: "ats"}},
		Attempt: delivery.Attempt{Class: classify.ClassUnavailable}, Action: delivery.ActionDefer,
	})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbound_runs_total Dispatcher runs (RunOnce) by result: work (claimed records), idle, gate_closed, or error (claiming or recording outcomes failed).
# TYPE outbound_runs_total counter
outbound_runs_total{result="gate_closed"} 1
outbound_runs_total{result="idle"} 1
outbound_runs_total{result="work"} 1
# HELP outbound_settle_errors_total Outcomes that could not be written to the store: reason lease_lost (another worker took the record over) or error.
# TYPE outbound_settle_errors_total counter
outbound_settle_errors_total{reason="error"} 1
outbound_settle_errors_total{reason="lease_lost"} 1
# HELP outbound_actions_total Claimed records by destination and what the dispatcher did with them: delivered, duplicate, retry, dead_letter, discard, defer, release.
# TYPE outbound_actions_total counter
outbound_actions_total{action="defer",destination="ats"} 1
outbound_actions_total{action="delivered",destination="ats"} 2
`), "outbound_runs_total", "outbound_settle_errors_total", "outbound_actions_total"))
	assert.Equal(t, 1, testutil.CollectAndCount(m, "outbound_attempts_total"), "the deferral is not an attempt")
	fams := gather(t, reg)
	assert.Equal(t, uint64(3), fams["outbound_run_duration_seconds"].GetMetric()[0].GetHistogram().GetSampleCount())
	assert.Equal(t, float64(end.Unix()), fams["outbound_last_run_timestamp_seconds"].GetMetric()[0].GetGauge().GetValue(),
		"the latest run ended at end")
}

func TestTokenMintDurations(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{LatencyBuckets: []float64{0.1, 1}})
	m.TokenEvent(tokencache.Event{Kind: tokencache.EventMinted, Key: "k", Duration: 50 * time.Millisecond})
	m.TokenEvent(tokencache.Event{Kind: tokencache.EventMintFailed, Key: "k", Duration: 2 * time.Second})
	m.TokenEvent(tokencache.Event{Kind: tokencache.EventShared, Key: "k"})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbound_token_mint_duration_seconds Duration of token mints, successful or not.
# TYPE outbound_token_mint_duration_seconds histogram
outbound_token_mint_duration_seconds_bucket{cache="k",le="0.1"} 1
outbound_token_mint_duration_seconds_bucket{cache="k",le="1"} 1
outbound_token_mint_duration_seconds_bucket{cache="k",le="+Inf"} 2
outbound_token_mint_duration_seconds_sum{cache="k"} 2.05
outbound_token_mint_duration_seconds_count{cache="k"} 2
`), "outbound_token_mint_duration_seconds"))
}

func TestConstLabelsAndNamespace(t *testing.T) {
	a, _ := newMetrics(t, metrics.Config{ConstLabels: prometheus.Labels{"dispatcher": "a"}})
	b, _ := newMetrics(t, metrics.Config{ConstLabels: prometheus.Labels{"dispatcher": "b"}})
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(a))
	require.NoError(t, reg.Register(b), "two dispatchers share a registry when their const labels differ")

	c, _ := newMetrics(t, metrics.Config{Namespace: "shop"})
	c.ObserveRun(context.Background(), delivery.Report{})
	assert.Equal(t, 1, testutil.CollectAndCount(c, "shop_runs_total"))
}

func TestNewValidates(t *testing.T) {
	cases := []struct {
		cfg  metrics.Config
		want string
	}{
		{metrics.Config{MaxLabelValues: -1}, "Config.MaxLabelValues"},
		{metrics.Config{StatsInterval: -1}, "Config.StatsInterval"},
		{metrics.Config{StatsTimeout: -1}, "Config.StatsTimeout"},
		{metrics.Config{ExemplarInterval: -1}, "Config.ExemplarInterval"},
		{metrics.Config{LatencyBuckets: []float64{}}, "Config.LatencyBuckets"},
		{metrics.Config{LatencyBuckets: []float64{1, 0.5}}, "Config.LatencyBuckets"},
		{metrics.Config{Namespace: "bad-name"}, "Config.Namespace"},
		{metrics.Config{ConstLabels: prometheus.Labels{"destination": "x"}}, "Config.ConstLabels"},
		{metrics.Config{ConstLabels: prometheus.Labels{"0bad": "x"}}, "Config.ConstLabels"},
		{metrics.Config{ConstLabels: prometheus.Labels{"__name__": "x"}}, "Config.ConstLabels"},
	}
	for _, tc := range cases {
		_, err := metrics.New(tc.cfg)
		require.Error(t, err, "%+v", tc.cfg)
		assert.Contains(t, err.Error(), tc.want)
		assert.True(t, strings.HasPrefix(err.Error(), "metrics: "), err.Error())
	}
}

func TestObserveDestination(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	ctx := context.Background()
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationPausedChange, Cause: "http_429", Until: time.Now().Add(time.Minute)})
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "hook", Change: delivery.DestinationDisabledChange, Cause: "gone"})
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationResumedChange})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbound_destination_changes_total Destination pauses, resumes, disables and rate changes made by this process's dispatchers, by destination, change and cause.
# TYPE outbound_destination_changes_total counter
outbound_destination_changes_total{cause="",change="resumed",destination="crm"} 1
outbound_destination_changes_total{cause="gone",change="disabled",destination="hook"} 1
outbound_destination_changes_total{cause="http_429",change="paused",destination="crm"} 1
# HELP outbound_destination_paused 1 while this process last saw the destination paused or disabled for the fleet, 0 once it saw it resumed.
# TYPE outbound_destination_paused gauge
outbound_destination_paused{destination="crm"} 0
outbound_destination_paused{destination="hook"} 1
`), "outbound_destination_changes_total", "outbound_destination_paused"))
}

func TestObserveLearnedRate(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	ctx := context.Background()
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationRateChange, Cause: "http_429", Rate: 50})
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationRateChange, Cause: "http_429", Rate: 25})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbound_destination_changes_total Destination pauses, resumes, disables and rate changes made by this process's dispatchers, by destination, change and cause.
# TYPE outbound_destination_changes_total counter
outbound_destination_changes_total{cause="http_429",change="rate",destination="crm"} 2
# HELP outbound_destination_learned_rate The fleet-wide rate per second this process's dispatchers last set for the destination, learned from the partner's 429s and rate-limit headers.
# TYPE outbound_destination_learned_rate gauge
outbound_destination_learned_rate{destination="crm"} 25
`), "outbound_destination_changes_total", "outbound_destination_learned_rate", "outbound_destination_paused"))
}

func TestObserveConcurrencyLimitAndRetryBudget(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	ctx := context.Background()
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationConcurrencyChange, Cause: "growth", InFlight: 8})
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationConcurrencyChange, Cause: "overload", InFlight: 4})
	m.ObserveDestination(ctx, delivery.DestinationEvent{Destination: "crm", Change: delivery.DestinationBudgetExhaustedChange, Cause: "retry_budget"})
	deferred := delivery.AttemptEvent{Record: delivery.Record{Message: delivery.Message{Destination: "crm"}}, Action: delivery.ActionDefer,
		Err: classify.Unavailable(delivery.ErrRetryBudget)}
	m.ObserveAttempt(ctx, deferred)
	m.ObserveAttempt(ctx, deferred)
	m.ObserveAttempt(ctx, delivery.AttemptEvent{Record: delivery.Record{Message: delivery.Message{Destination: "crm"}}, Action: delivery.ActionDefer,
		Err: classify.Unavailable(errors.New("paused"))})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP outbound_destination_changes_total Destination pauses, resumes, disables and rate changes made by this process's dispatchers, by destination, change and cause.
# TYPE outbound_destination_changes_total counter
outbound_destination_changes_total{cause="growth",change="concurrency",destination="crm"} 1
outbound_destination_changes_total{cause="overload",change="concurrency",destination="crm"} 1
outbound_destination_changes_total{cause="retry_budget",change="budget_exhausted",destination="crm"} 1
# HELP outbound_destination_concurrency_limit The adaptive concurrency limit (requests in flight, fleet-wide) this process's dispatchers last set for the destination.
# TYPE outbound_destination_concurrency_limit gauge
outbound_destination_concurrency_limit{destination="crm"} 4
# HELP outbound_retry_budget_deferrals_total Due retries deferred, unattempted, because the destination's retry budget was spent.
# TYPE outbound_retry_budget_deferrals_total counter
outbound_retry_budget_deferrals_total{destination="crm"} 2
`), "outbound_destination_changes_total", "outbound_destination_concurrency_limit", "outbound_retry_budget_deferrals_total", "outbound_destination_paused"))
}
