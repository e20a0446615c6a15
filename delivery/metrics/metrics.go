package metrics

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/nilcheck"
)

// Defaults of Config.
const (
	DefaultNamespace      = "outbound"
	DefaultMaxLabelValues = 100
	DefaultStatsInterval  = 10 * time.Second
	DefaultStatsTimeout   = 5 * time.Second
	// DefaultExemplarInterval is the default Config.ExemplarInterval.
	DefaultExemplarInterval = time.Second
)

// DefaultLatencyBuckets are the attempt latency buckets, in seconds: from 5ms
// to the dispatcher's default 30s attempt timeout and beyond.
var DefaultLatencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// classicName is the syntax of metric and label names that every
// Prometheus version and every PromQL query accepts unquoted.
var classicName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Config configures a Collector. The zero value is usable: metrics named
// outbound_*, no queue gauges, exemplars on.
type Config struct {
	// Namespace prefixes every metric name. Empty means DefaultNamespace
	// ("outbound"). It must match [a-zA-Z_][a-zA-Z0-9_]*.
	Namespace string
	// ConstLabels are added to every metric, e.g. {"dispatcher": "ats"}
	// to tell two Collectors apart in one registry. Names must match
	// [a-zA-Z_][a-zA-Z0-9_]* and must not clash with the variable labels
	// (destination, class, cause, action, reason, result, breaker,
	// monitor, cache, event, to, state, set, from, channel).
	ConstLabels prometheus.Labels
	// LatencyBuckets are the upper bounds, in seconds, of the attempt
	// latency histogram. Nil means DefaultLatencyBuckets.
	LatencyBuckets []float64
	// MaxLabelValues bounds how many distinct values each of the labels
	// destination, cause, breaker, monitor and cache takes; later values
	// are reported as Other. Zero means DefaultMaxLabelValues (100).
	MaxLabelValues int
	// DisableExemplars turns off the correlation_id exemplars on
	// outbound_attempts_total and outbound_attempt_duration_seconds.
	// Exemplars link a spike on a dashboard to the log lines of one
	// record; they are exposed only in the OpenMetrics format
	// (promhttp.HandlerOpts{EnableOpenMetrics: true}).
	DisableExemplars bool
	// ExemplarInterval is the least time between two exemplars on one
	// series. Prometheus keeps only the latest exemplar of a series (of a
	// histogram bucket) and sees it once per scrape, while an exemplar
	// costs about 16 allocations; so most records need none. Zero means
	// DefaultExemplarInterval (1s); negative is an error.
	ExemplarInterval time.Duration
	// Store, if set, is asked for Stats to report the queue gauges
	// (outbound_queue_*): records by state, oldest pending age, oldest due
	// age. Nil reports none.
	Store delivery.Store
	// StatsInterval is the least time between two Store.Stats queries: a
	// scrape within it reuses the last answer, however many scrapers
	// there are. Zero means DefaultStatsInterval (10s).
	StatsInterval time.Duration
	// StatsTimeout bounds each Store.Stats query. Zero means
	// DefaultStatsTimeout (5s).
	StatsTimeout time.Duration
}

// Collector is a Prometheus collector and a delivery.Observer: it counts
// attempts and what the dispatcher did with each record, times attempts
// and runs, follows breaker, health and token-cache hooks, and reports the
// queue from Store.Stats at most once per StatsInterval. Register it once:
//
//	m, err := metrics.New(metrics.Config{Store: store})
//	prometheus.MustRegister(m)
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send, Observer: m})
//
// Labels never carry record ids, keys or correlation ids (those go into
// exemplars), and each label's values are bounded by MaxLabelValues, so the
// number of series stays bounded. A Collector is safe for concurrent use.
type Collector struct {
	exemplarInterval time.Duration // 0: no exemplars
	attemptSeries    sync.Map      // seriesKey -> *attemptSeries
	actionSeries     sync.Map      // actionKey -> prometheus.Counter

	dests    *labelValues
	causes   *labelValues
	breakers *labelValues
	monitors *labelValues
	caches   *labelValues
	sets     *labelValues
	channels *labelValues

	attempts       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	actions        *prometheus.CounterVec
	settleErrors   *prometheus.CounterVec
	runs           *prometheus.CounterVec
	runDuration    prometheus.Histogram
	lastRun        prometheus.Gauge
	breakerState   *prometheus.GaugeVec
	breakerChanges *prometheus.CounterVec
	healthState    *prometheus.GaugeVec
	healthChanges  *prometheus.CounterVec
	tokenEvents    *prometheus.CounterVec
	mintDuration   *prometheus.HistogramVec
	switches       *prometheus.CounterVec
	channelSends   *prometheus.CounterVec
	destChanges    *prometheus.CounterVec
	destPaused     *prometheus.GaugeVec
	learnedRate    *prometheus.GaugeVec
	concLimit      *prometheus.GaugeVec
	budgetDefers   *prometheus.CounterVec

	queue *queueCollector // nil without Config.Store
}

// New returns a Collector for cfg, not yet registered. It returns an error
// naming the field when cfg is invalid.
func New(cfg Config) (*Collector, error) {
	var errs []error
	if cfg.MaxLabelValues < 0 {
		errs = append(errs, fmt.Errorf("metrics: Config.MaxLabelValues must not be negative, got %d", cfg.MaxLabelValues))
	}
	if cfg.StatsInterval < 0 {
		errs = append(errs, fmt.Errorf("metrics: Config.StatsInterval must not be negative, got %v", cfg.StatsInterval))
	}
	if cfg.ExemplarInterval < 0 {
		errs = append(errs, fmt.Errorf("metrics: Config.ExemplarInterval must not be negative, got %v", cfg.ExemplarInterval))
	}
	if cfg.StatsTimeout < 0 {
		errs = append(errs, fmt.Errorf("metrics: Config.StatsTimeout must not be negative, got %v", cfg.StatsTimeout))
	}
	if cfg.LatencyBuckets != nil && len(cfg.LatencyBuckets) == 0 {
		errs = append(errs, errors.New("metrics: Config.LatencyBuckets must not be empty; nil means the default"))
	}
	if slices.ContainsFunc(cfg.LatencyBuckets, math.IsNaN) {
		errs = append(errs, fmt.Errorf("metrics: Config.LatencyBuckets must not hold NaN, got %v", cfg.LatencyBuckets))
	}
	if nilcheck.Typed(cfg.Store) {
		errs = append(errs, fmt.Errorf("metrics: Config.Store is a nil %T: set a usable store or leave it unset", cfg.Store))
	}
	for i := 1; i < len(cfg.LatencyBuckets); i++ {
		if cfg.LatencyBuckets[i] <= cfg.LatencyBuckets[i-1] {
			errs = append(errs, fmt.Errorf("metrics: Config.LatencyBuckets must be increasing, got %v", cfg.LatencyBuckets))
			break
		}
	}
	if cfg.Namespace != "" && !classicName.MatchString(cfg.Namespace) {
		errs = append(errs, fmt.Errorf("metrics: Config.Namespace %q must match %s", cfg.Namespace, classicName))
	}
	for name := range cfg.ConstLabels {
		if !classicName.MatchString(name) || strings.HasPrefix(name, "__") {
			errs = append(errs, fmt.Errorf("metrics: Config.ConstLabels name %q must match %s and not start with __", name, classicName))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.LatencyBuckets == nil {
		cfg.LatencyBuckets = DefaultLatencyBuckets
	}
	if cfg.MaxLabelValues == 0 {
		cfg.MaxLabelValues = DefaultMaxLabelValues
	}
	if cfg.StatsInterval == 0 {
		cfg.StatsInterval = DefaultStatsInterval
	}
	if cfg.StatsTimeout == 0 {
		cfg.StatsTimeout = DefaultStatsTimeout
	}
	if cfg.ExemplarInterval == 0 {
		cfg.ExemplarInterval = DefaultExemplarInterval
	}
	if cfg.DisableExemplars {
		cfg.ExemplarInterval = 0
	}

	ns, cl := cfg.Namespace, cfg.ConstLabels
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	m := &Collector{
		exemplarInterval: cfg.ExemplarInterval,
		dests:            newLabelValues(cfg.MaxLabelValues),
		causes:           newLabelValues(cfg.MaxLabelValues),
		breakers:         newLabelValues(cfg.MaxLabelValues),
		monitors:         newLabelValues(cfg.MaxLabelValues),
		caches:           newLabelValues(cfg.MaxLabelValues),
		sets:             newLabelValues(cfg.MaxLabelValues),
		channels:         newLabelValues(cfg.MaxLabelValues),

		attempts: counter("attempts_total",
			"Delivery attempts (calls of the Deliverer) by destination, outcome class and cause.",
			"destination", "class", "cause"),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "attempt_duration_seconds", ConstLabels: cl, Buckets: cfg.LatencyBuckets,
			Help: "Duration of delivery attempts by destination and outcome class.",
		}, []string{"destination", "class"}),
		actions: counter("actions_total",
			"Claimed records by destination and what the dispatcher did with them: delivered, duplicate, retry, dead_letter, discard, defer, release.",
			"destination", "action"),
		settleErrors: counter("settle_errors_total",
			"Outcomes that could not be written to the store: reason lease_lost (another worker took the record over) or error.",
			"reason"),
		runs: counter("runs_total",
			"Dispatcher runs (RunOnce) by result: work (claimed records), idle, gate_closed, or error (claiming or recording outcomes failed).",
			"result"),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "run_duration_seconds", ConstLabels: cl, Buckets: cfg.LatencyBuckets,
			Help: "Duration of dispatcher runs (RunOnce).",
		}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "last_run_timestamp_seconds", ConstLabels: cl,
			Help: "Unix time at which the latest dispatcher run ended.",
		}),
		breakerState: gauge("breaker_state",
			"Circuit breaker state: 0 closed, 1 half-open, 2 open.", "breaker"),
		breakerChanges: counter("breaker_transitions_total",
			"Circuit breaker state changes by the state entered.", "breaker", "to"),
		healthState: gauge("health_state",
			"Health monitor state: 0 unknown, 1 up, 2 down.", "monitor"),
		healthChanges: counter("health_transitions_total",
			"Health monitor state changes by the state entered.", "monitor", "to"),
		tokenEvents: counter("token_events_total",
			"Token cache events: minted, mint_failed, shared, lock_timeout, store_error, invalidated.", "cache", "event"),
		mintDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "token_mint_duration_seconds", ConstLabels: cl, Buckets: cfg.LatencyBuckets,
			Help: "Duration of token mints, successful or not.",
		}, []string{"cache"}),
		switches: counter("failover_switches_total",
			"Changes of a failover set's active channel, by set, channel left, channel entered and cause (recovered for a return).",
			"set", "from", "to", "cause"),
		channelSends: counter("failover_sends_total",
			"Sends on the channels of failover sets, by set, channel and outcome class.",
			"set", "channel", "class"),
		destChanges: counter("destination_changes_total",
			"Destination pauses, resumes, disables and rate changes made by this process's dispatchers, by destination, change and cause.",
			"destination", "change", "cause"),
		destPaused: gauge("destination_paused",
			"1 while this process last saw the destination paused or disabled for the fleet, 0 once it saw it resumed.",
			"destination"),
		learnedRate: gauge("destination_learned_rate",
			"The fleet-wide rate per second this process's dispatchers last set for the destination, learned from the partner's 429s and rate-limit headers.",
			"destination"),
		concLimit: gauge("destination_concurrency_limit",
			"The adaptive concurrency limit (requests in flight, fleet-wide) this process's dispatchers last set for the destination.",
			"destination"),
		budgetDefers: counter("retry_budget_deferrals_total",
			"Due retries deferred, unattempted, because the destination's retry budget was spent.",
			"destination"),
	}
	if cfg.Store != nil {
		m.queue = newQueueCollector(cfg.Store, ns, cl, cfg.StatsInterval, cfg.StatsTimeout)
	}
	// Build every descriptor now, so a bad Namespace or ConstLabels fails
	// here rather than at registration.
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// validate registers m with a throw-away registry, which checks every
// metric name and label.
func (m *Collector) validate() error {
	if err := prometheus.NewPedanticRegistry().Register(m); err != nil {
		return fmt.Errorf("metrics: invalid Config.Namespace or Config.ConstLabels: %w", err)
	}
	return nil
}

func (m *Collector) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.attempts, m.latency, m.actions, m.settleErrors, m.runs, m.runDuration, m.lastRun,
		m.breakerState, m.breakerChanges, m.healthState, m.healthChanges, m.tokenEvents, m.mintDuration,
		m.switches, m.channelSends, m.destChanges, m.destPaused, m.learnedRate,
		m.concLimit, m.budgetDefers,
	}
}

// Describe sends the descriptors of every metric m reports. It implements
// prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	if m.queue != nil {
		m.queue.describe(ch)
	}
}

// Collect sends the current value of every metric. With Config.Store set it
// first refreshes the queue gauges from Store.Stats if the last query is
// older than StatsInterval; a failed query counts in
// outbound_queue_stats_errors_total and the last good values are reported.
// It implements prometheus.Collector.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	if m.queue != nil {
		m.queue.collect(ch)
	}
}
