package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/saturate"
)

// exemplarLabel names the exemplar label that carries a correlation id.
const exemplarLabel = "correlation_id"

// maxExemplarID is the longest correlation id, in runes, that fits an
// exemplar next to its label name.
const maxExemplarID = prometheus.ExemplarMaxRunes - len(exemplarLabel)

// attemptSeries holds the resolved children of one (destination, class,
// cause), so the hot path does not hash label values into the vectors.
type attemptSeries struct {
	attempts prometheus.Counter
	latency  prometheus.Observer
	// nextExemplar is when, in Unix nanoseconds, this series may take its
	// next exemplar.
	nextExemplar atomic.Int64
}

type seriesKey struct{ dest, class, cause string }

type actionKey struct {
	dest   string
	action delivery.Action
}

func (m *Collector) series(dest, class, cause string) *attemptSeries {
	k := seriesKey{dest, class, cause}
	if s, ok := m.attemptSeries.Load(k); ok {
		return s.(*attemptSeries)
	}
	s, _ := m.attemptSeries.LoadOrStore(k, &attemptSeries{
		attempts: m.attempts.WithLabelValues(dest, class, cause),
		latency:  m.latency.WithLabelValues(dest, class),
	})
	return s.(*attemptSeries)
}

func (m *Collector) action(dest string, a delivery.Action) prometheus.Counter {
	k := actionKey{dest, a}
	if c, ok := m.actionSeries.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.actionSeries.LoadOrStore(k, m.actions.WithLabelValues(dest, a.String()))
	return c.(prometheus.Counter)
}

// ObserveAttempt counts e: in outbound_actions_total always, and, when the
// deliverer was called, in outbound_attempts_total and
// outbound_attempt_duration_seconds, with the record's correlation id as
// exemplar at most once per ExemplarInterval per series. An outcome the
// store refused is counted in outbound_settle_errors_total, a retry the
// retry budget deferred in outbound_retry_budget_deferrals_total. It implements
// delivery.Observer.
func (m *Collector) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	dest := m.dests.get(e.Record.Destination)
	if e.StoreErr != nil {
		reason := "error"
		if errors.Is(e.StoreErr, delivery.ErrLeaseLost) {
			reason = "lease_lost"
		}
		m.settleErrors.WithLabelValues(reason).Inc()
	}
	m.action(dest, e.Action).Inc()
	if !e.Attempted {
		if errors.Is(e.Err, delivery.ErrRetryBudget) {
			m.budgetDefers.WithLabelValues(dest).Inc()
		}
		return
	}
	s := m.series(dest, e.Attempt.Class.String(), m.causes.get(e.Cause))
	secs := e.Attempt.Duration.Seconds()
	if m.exemplarInterval > 0 {
		now := e.Attempt.StartedAt.Add(e.Attempt.Duration)
		if e.Attempt.StartedAt.IsZero() {
			now = time.Now()
		}
		next := s.nextExemplar.Load()
		if now.UnixNano() >= next && s.nextExemplar.CompareAndSwap(next, int64(saturate.Add(time.Duration(now.UnixNano()), m.exemplarInterval))) {
			if ex := exemplar(&e.Record); ex != nil {
				s.attempts.(prometheus.ExemplarAdder).AddWithExemplar(1, ex)
				s.latency.(prometheus.ExemplarObserver).ObserveWithExemplar(secs, ex)
				return
			}
		}
	}
	s.attempts.Inc()
	s.latency.Observe(secs)
}

// exemplar returns the exemplar labels for a record: its correlation id is
// the message's, or the record id (what the dispatcher sends when the
// message has none), cut to fit the exemplar size limit. It returns nil
// when there is no usable id.
func exemplar(r *delivery.Record) prometheus.Labels {
	id := r.CorrelationID
	if id == "" {
		id = r.ID
	}
	if id == "" || !utf8.ValidString(id) {
		return nil
	}
	if utf8.RuneCountInString(id) > maxExemplarID {
		n := 0
		for i := range id {
			if n == maxExemplarID {
				id = id[:i]
				break
			}
			n++
		}
	}
	return prometheus.Labels{exemplarLabel: id}
}

// ObserveRun counts the run in outbound_runs_total by result, times it in
// outbound_run_duration_seconds and sets outbound_last_run_timestamp_seconds.
// It implements delivery.Observer.
func (m *Collector) ObserveRun(_ context.Context, r delivery.Report) {
	result := "work"
	switch {
	case r.Err != nil:
		result = "error"
	case r.Claimed > 0:
	case r.GateClosed:
		result = "gate_closed"
	default:
		result = "idle"
	}
	m.runs.WithLabelValues(result).Inc()
	m.runDuration.Observe(r.Duration.Seconds())
	end := r.Started.Add(r.Duration)
	if r.Started.IsZero() {
		end = time.Now()
	}
	m.lastRun.Set(float64(end.UnixNano()) / 1e9)
}
