package metrics

import (
	"context"

	"github.com/outbound-go/outbound/delivery"
)

var _ delivery.DestinationObserver = (*Collector)(nil)

// ObserveDestination counts a dispatcher's pause, resume, disable or rate
// change of a destination in outbound_destination_changes_total and sets
// outbound_destination_paused (1 paused or disabled, 0 resumed) or, for a
// rate change, outbound_destination_learned_rate, or, for an adaptive
// concurrency change, outbound_destination_concurrency_limit (a spent
// retry budget is only counted). It makes
// the Collector a delivery.DestinationObserver, so the Dispatcher calls it
// when the Collector is its Observer.
func (m *Collector) ObserveDestination(_ context.Context, e delivery.DestinationEvent) {
	dest := m.dests.get(e.Destination)
	m.destChanges.WithLabelValues(dest, e.Change.String(), m.causes.get(e.Cause)).Inc()
	switch e.Change {
	case delivery.DestinationRateChange:
		m.learnedRate.WithLabelValues(dest).Set(e.Rate)
		return
	case delivery.DestinationConcurrencyChange:
		m.concLimit.WithLabelValues(dest).Set(float64(e.InFlight))
		return
	case delivery.DestinationBudgetExhaustedChange:
		return
	}
	paused := 1.0
	if e.Change == delivery.DestinationResumedChange {
		paused = 0
	}
	m.destPaused.WithLabelValues(dest).Set(paused)
}
