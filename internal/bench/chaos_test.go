package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The chaos comparison's plumbing on a tiny configuration: a private
// server, outbound in the backends-terminated and SIGKILL cells, River in
// the terminated one, and no record lost. It asserts no speed.
func TestChaosCellsLoseNothing(t *testing.T) {
	if _, err := FindPGBin(""); err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx := context.Background()
	const records = 300
	c, err := OpenChaos(ctx, ChaosConfig{Records: records, Workers: 4, Timeout: 25 * time.Second, ChildArgs: []string{"-test.run=^$"}})
	require.NoError(t, err)
	defer c.Close()
	outbound, river := ChaosContenders()[0], ChaosContenders()[1]
	for _, tc := range []struct {
		q    ChaosContender
		cell ChaosCell
	}{
		{outbound, ChaosCells()[1]},
		{outbound, ChaosCells()[4]},
		{river, ChaosCells()[1]},
	} {
		t.Run(tc.q.Kind+"/"+string(tc.cell.Fault), func(t *testing.T) {
			res, err := c.Run(ctx, tc.q, tc.cell)
			require.NoError(t, err)
			t.Logf("%s: %+v", tc.cell.Name, res)
			assert.Equal(t, records, res.Records)
			assert.Zero(t, res.Lost, "records never delivered")
			assert.Equal(t, int64(records), res.Settled, "every record settled as done")
			assert.LessOrEqual(t, res.Duplicated, res.Extra)
		})
	}
}

func TestOpenChaosBadConfig(t *testing.T) {
	_, err := OpenChaos(context.Background(), ChaosConfig{Records: 2})
	require.Error(t, err)
	_, err = OpenChaos(context.Background(), ChaosConfig{MaxConnections: 5})
	require.Error(t, err)
}

func TestFindPGBinNamesWhatToInstall(t *testing.T) {
	_, err := FindPGBin(t.TempDir())
	require.ErrorContains(t, err, "postgresql package")
}

func TestDeliveryGaps(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	times := []time.Time{at(0), at(10), at(20), at(900), at(910), at(2000)}
	toFirst, gap, drained := deliveryGaps(times, at(25), at(800))
	assert.Equal(t, 100*time.Millisecond, toFirst)
	assert.Equal(t, 880*time.Millisecond, gap, "from the last arrival before the fault to the first after")
	assert.Equal(t, 1200*time.Millisecond, drained)

	toFirst, _, drained = deliveryGaps(times, at(2500), at(3000))
	assert.Equal(t, time.Duration(-1), toFirst, "nothing after the fault")
	assert.Equal(t, time.Duration(-1), drained)

	toFirst, gap, _ = deliveryGaps(times[3:], at(100), at(200))
	assert.Equal(t, 700*time.Millisecond, toFirst)
	assert.Equal(t, 800*time.Millisecond, gap, "no arrival before the fault: from its start")
}
