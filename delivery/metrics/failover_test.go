package metrics_test

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failover"
	"github.com/outbound-go/outbound/delivery/metrics"
)

func TestFailoverSwitchesAndSends(t *testing.T) {
	m, err := metrics.New(metrics.Config{})
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))

	refused := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	})
	accepts := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
	set, err := failover.New(failover.Config{
		Name:     "partner",
		Channels: []failover.Channel{{Name: "primary", Deliverer: refused}, {Name: "backup", Deliverer: accepts}},
		OnSwitch: m.FailoverSwitched,
		OnSend:   m.FailoverSent,
	})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, set.Deliver(context.Background(), &delivery.Message{ID: "m", Payload: []byte("{}")}))
	}

	want := `
# HELP outbound_failover_switches_total Changes of a failover set's active channel, by set, channel left, channel entered and cause (recovered for a return).
# TYPE outbound_failover_switches_total counter
outbound_failover_switches_total{cause="conn_refused",from="primary",set="partner",to="backup"} 1
# HELP outbound_failover_sends_total Sends on the channels of failover sets, by set, channel and outcome class.
# TYPE outbound_failover_sends_total counter
outbound_failover_sends_total{channel="backup",class="ok",set="partner"} 3
outbound_failover_sends_total{channel="primary",class="ephemeral",set="partner"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"outbound_failover_switches_total", "outbound_failover_sends_total"))
}
