package metrics

import (
	"context"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/failover"
)

// FailoverSwitched counts a failover set's switch in
// outbound_failover_switches_total by set, channel left, channel entered
// and cause. It fits failover.Config's OnSwitch.
func (m *Collector) FailoverSwitched(s failover.Switch) {
	m.switches.WithLabelValues(m.sets.get(s.Set), m.channels.get(s.From), m.channels.get(s.To), m.causes.get(s.Cause)).Inc()
}

// FailoverSent counts a send on a failover channel in
// outbound_failover_sends_total by set, channel and outcome class, so a
// dashboard shows which channel carries the traffic. It fits
// failover.Config's OnSend.
func (m *Collector) FailoverSent(_ context.Context, s failover.Send) {
	m.channelSends.WithLabelValues(m.sets.get(s.Set), m.channels.get(s.Channel), classify.Of(s.Err).String()).Inc()
}
