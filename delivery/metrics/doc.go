// Package metrics exports what a delivery.Dispatcher does as Prometheus
// metrics, with github.com/prometheus/client_golang. It lives apart from
// package delivery so that programs that do not use Prometheus never import
// it.
//
// One [Collector] is a delivery.Observer, a prometheus.Collector, and
// the target of the health and tokencache hooks:
//
//	m, err := metrics.New(metrics.Config{Store: store}) // Store: queue gauges
//	if err != nil { ... }
//	prometheus.MustRegister(m)
//	logs, _ := logging.NewObserver(logging.Config{Logger: logger})
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
//		Store: store, Deliverer: send,
//		Observer: delivery.Observers(logs, m),
//	})
//	breaker, _ := health.NewCircuitBreaker(health.BreakerConfig{Name: "ats", OnStateChange: m.BreakerChanged})
//	monitor, _ := health.NewMonitor(health.MonitorConfig{Name: "ats", Checker: check, OnChange: m.HealthChanged})
//	tokens, _ := tokencache.New(src, tokencache.Config{OnEvent: m.TokenEvent})
//
// # Metrics
//
// With the default namespace "outbound":
//
//	outbound_attempts_total{destination,class,cause}          counter    Deliverer calls (exemplar: correlation_id)
//	outbound_attempt_duration_seconds{destination,class}      histogram  attempt latency (exemplar: correlation_id)
//	outbound_actions_total{destination,action}                counter    what was done with each claimed record
//	outbound_settle_errors_total{reason}                      counter    outcomes the store refused (lease_lost, error)
//	outbound_runs_total{result}                               counter    runs: work, idle, gate_closed, error
//	outbound_run_duration_seconds                             histogram  run duration
//	outbound_last_run_timestamp_seconds                       gauge      end of the latest run (a stuck dispatcher stops it)
//	outbound_queue_records{state}                             gauge      records by state, from Store.Stats
//	outbound_queue_oldest_pending_seconds                     gauge      age of the oldest live record
//	outbound_queue_oldest_due_seconds                         gauge      how long the oldest due record has waited
//	outbound_queue_stats_age_seconds                          gauge      age of the queue figures
//	outbound_queue_stats_errors_total                         counter    failed Store.Stats queries
//	outbound_breaker_state{breaker}                           gauge      0 closed, 1 half-open, 2 open
//	outbound_breaker_transitions_total{breaker,to}            counter    breaker state changes
//	outbound_health_state{monitor}                            gauge      0 unknown, 1 up, 2 down
//	outbound_health_transitions_total{monitor,to}             counter    health state changes
//	outbound_token_events_total{cache,event}                  counter    minted, mint_failed, shared, ...
//	outbound_token_mint_duration_seconds{cache}               histogram  mint latency
//	outbound_failover_switches_total{set,from,to,cause}       counter    failover switches (OnSwitch)
//	outbound_failover_sends_total{set,channel,class}          counter    sends per failover channel (OnSend)
//
// The attempt counter and histogram carry the record's correlation id as an
// exemplar (the message's CorrelationID, or the record id the dispatcher
// sends in its place), at most once per Config.ExemplarInterval per series:
// Prometheus keeps only the latest one anyway, and an exemplar costs
// allocations that a plain increment does not. Exemplars are exposed in the
// OpenMetrics format only: promhttp.HandlerOpts{EnableOpenMetrics: true}.
//
// Cardinality is bounded: no label carries a record id, key or
// correlation id, class and action take a fixed set of values, and
// destination, cause, breaker, monitor, cache, set and channel take at most
// Config.MaxLabelValues values each, the rest being reported as [Other].
// Message.Destination should name a partner ("ats-acme"), not a URL.
//
// The queue gauges come from Store.Stats, which on a database store is a
// query: a Collector runs it at most once per Config.StatsInterval (10s by
// default), during a scrape, however many scrapers there are, and never
// in the background.
package metrics
