package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

// The fleet comparison's plumbing, in a short run with two processes of
// each kind: the children start, work the shared queue and stop cleanly
// on SIGTERM, and the partner's counts add up. It asserts no speed.
func TestRunFleetPlumbing(t *testing.T) {
	url := testenv.PostgresURL(t)
	cfg := FleetConfig{PG: url, Processes: 2, Duration: 3 * time.Second, Window: time.Second, PartnerRate: 20, ChildArgs: []string{"-test.run=^$"}}
	for _, c := range []FleetContender{FleetContenders(20)[0], FleetContenders(20)[2]} {
		t.Run(c.Kind, func(t *testing.T) {
			res, err := RunFleet(context.Background(), cfg, c)
			require.NoError(t, err)
			require.Len(t, res.Windows, 3)
			sum := 0
			for _, n := range res.Windows {
				sum += n
			}
			assert.Equal(t, res.Requests, sum, "every request counted in one window")
			refused := 0
			for i, n := range res.RefusedWindows {
				refused += n
				assert.LessOrEqual(t, n, res.Windows[i])
			}
			assert.Equal(t, res.Refused, refused, "every 429 counted in one window")
			assert.Positive(t, res.Requests, "the processes reached the partner")
			assert.LessOrEqual(t, res.Refused, res.Requests)
			assert.Positive(t, res.Delivered, "the processes settled deliveries in the queue")
			assert.LessOrEqual(t, res.Delivered, res.Accepted, "a delivery is an accepted request")
			assert.InDelta(t, float64(res.Requests)/3, res.Average(), 1e-9)
			t.Logf("%s: windows %v, %d requests, %d refused, %d accepted, %d delivered", c.Name, res.Windows, res.Requests, res.Refused, res.Accepted, res.Delivered)
		})
	}
}

func TestRunFleetBadConfig(t *testing.T) {
	_, err := RunFleet(context.Background(), FleetConfig{Processes: -1}, FleetContenders(20)[0])
	require.Error(t, err)
	_, err = RunFleet(context.Background(), FleetConfig{}, FleetContender{Kind: "outbound"})
	require.Error(t, err)
}

func TestFleetResultRates(t *testing.T) {
	r := FleetResult{Window: 5 * time.Second, Duration: 12 * time.Second, Windows: []int{150, 100, 40}, Requests: 290, Refused: 29}
	assert.InDelta(t, 30, r.WindowRate(0), 1e-9)
	assert.InDelta(t, 20, r.WindowRate(2), 1e-9, "the last window is 2s long")
	assert.InDelta(t, 20, r.MaxAfterFirst(), 1e-9)
	assert.InDelta(t, 290.0/12, r.Average(), 1e-9)
	assert.InDelta(t, 0.1, r.RefusedShare(), 1e-9)
}
