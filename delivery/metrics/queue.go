package metrics

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outbound-go/outbound/delivery"
)

// queueCollector reports a store's Stats as gauges, querying the store at
// most once per interval however often, and however concurrently, it is
// scraped.
type queueCollector struct {
	store    delivery.Store
	interval time.Duration
	timeout  time.Duration

	records, oldestPending, oldestDue, age *prometheus.Desc
	errs                                   prometheus.Counter

	mu      sync.Mutex
	flight  chan struct{} // non-nil while a query runs; closed when it ends
	queried time.Time     // when the latest query began; zero before the first
	have    bool
	stats   delivery.Stats
	at      time.Time // when stats was read
}

func newQueueCollector(store delivery.Store, ns string, cl prometheus.Labels, interval, timeout time.Duration) *queueCollector {
	name := func(n string) string { return prometheus.BuildFQName(ns, "queue", n) }
	return &queueCollector{
		store: store, interval: interval, timeout: timeout,
		records: prometheus.NewDesc(name("records"),
			"Records in the store by state (pending, in_flight, delivered, dead, discarded).", []string{"state"}, cl),
		oldestPending: prometheus.NewDesc(name("oldest_pending_seconds"),
			"Age of the oldest live (pending or in-flight) record, since it was enqueued; 0 when there is none.", nil, cl),
		oldestDue: prometheus.NewDesc(name("oldest_due_seconds"),
			"How long the longest-waiting due record has been due; 0 when none is due.", nil, cl),
		age: prometheus.NewDesc(name("stats_age_seconds"),
			"How old the reported queue figures are: the time since Store.Stats last answered.", nil, cl),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "queue", Name: "stats_errors_total", ConstLabels: cl,
			Help: "Store.Stats queries that failed; the previous figures are reported meanwhile.",
		}),
	}
}

func (q *queueCollector) describe(ch chan<- *prometheus.Desc) {
	ch <- q.records
	ch <- q.oldestPending
	ch <- q.oldestDue
	ch <- q.age
	q.errs.Describe(ch)
}

// current returns the latest stats, querying the store first if the last
// query began at least interval ago. A scrape that arrives during a query
// waits for its answer instead of starting another. ok is false until a
// query succeeds.
func (q *queueCollector) current() (s delivery.Stats, at time.Time, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.flight != nil {
		flight := q.flight
		q.mu.Unlock()
		<-flight
		q.mu.Lock()
	}
	if q.queried.IsZero() || time.Since(q.queried) >= q.interval {
		flight := make(chan struct{})
		q.flight, q.queried = flight, time.Now()
		q.mu.Unlock()
		s, err := q.query()
		q.mu.Lock()
		if err != nil {
			q.errs.Inc()
		} else {
			q.stats, q.at, q.have = s, time.Now(), true
		}
		q.flight = nil
		close(flight)
	}
	return q.stats, q.at, q.have
}

// query asks the store for its stats within the timeout. A panicking store
// is reported as an error, so that a scrape never brings the program down
// and later scrapes do not wait forever.
func (q *queueCollector) query() (s delivery.Stats, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("metrics: Store.Stats panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	return q.store.Stats(ctx)
}

func (q *queueCollector) collect(ch chan<- prometheus.Metric) {
	s, at, ok := q.current()
	q.errs.Collect(ch)
	if !ok {
		return
	}
	for _, st := range delivery.States {
		ch <- prometheus.MustNewConstMetric(q.records, prometheus.GaugeValue, float64(s.Count(st)), st.String())
	}
	ch <- prometheus.MustNewConstMetric(q.oldestPending, prometheus.GaugeValue, s.OldestPending.Seconds())
	ch <- prometheus.MustNewConstMetric(q.oldestDue, prometheus.GaugeValue, s.OldestDue.Seconds())
	ch <- prometheus.MustNewConstMetric(q.age, prometheus.GaugeValue, time.Since(at).Seconds())
}
