package metrics

import (
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/tokencache"
)

// BreakerChanged sets outbound_breaker_state for the named breaker (0
// closed, 1 half-open, 2 open) and counts the change in
// outbound_breaker_transitions_total. Its signature fits
// health.BreakerConfig's OnStateChange. A breaker appears in the metrics
// from its first state change; until then it is closed.
func (m *Collector) BreakerChanged(name string, _, to health.BreakerState) {
	name = m.breakers.get(name)
	m.breakerState.WithLabelValues(name).Set(float64(to))
	m.breakerChanges.WithLabelValues(name, to.String()).Inc()
}

// HealthChanged sets outbound_health_state for the monitor (0 unknown, 1
// up, 2 down) and counts the change in outbound_health_transitions_total.
// It fits health.MonitorConfig's OnChange.
func (m *Collector) HealthChanged(c health.Change) {
	name := m.monitors.get(c.Name)
	m.healthState.WithLabelValues(name).Set(float64(c.To))
	m.healthChanges.WithLabelValues(name, c.To.String()).Inc()
}

// TokenEvent counts a token cache event in outbound_token_events_total by
// cache key and kind, and times mints (successful or failed) in
// outbound_token_mint_duration_seconds. It fits tokencache.Config's
// OnEvent.
func (m *Collector) TokenEvent(e tokencache.Event) {
	cache := m.caches.get(e.Key)
	m.tokenEvents.WithLabelValues(cache, e.Kind.String()).Inc()
	if e.Kind == tokencache.EventMinted || e.Kind == tokencache.EventMintFailed {
		m.mintDuration.WithLabelValues(cache).Observe(e.Duration.Seconds())
	}
}
