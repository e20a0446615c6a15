//go:build !race

package bench

import (
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The instruction count of a contender is the same from one run to the
// next, within a few percent (it is the reason to count them), and every
// contender is counted.
// Not under the race detector: its runtime does not run under valgrind.
func TestInstructionCountsRepeat(t *testing.T) {
	if _, err := exec.LookPath("valgrind"); err != nil {
		t.Skip("valgrind is not installed")
	}
	first, err := countInstructions(t.Context(), "pipeline", 2000, 10000)
	require.NoError(t, err)
	second, err := countInstructions(t.Context(), "pipeline", 2000, 10000)
	require.NoError(t, err)
	require.Len(t, second, len(first))
	for i, c := range first {
		require.NoError(t, c.Err, c.Name)
		require.NoError(t, second[i].Err, c.Name)
		t.Logf("%s: %.0f and %.0f instructions per op", c.Name, c.PerOp, second[i].PerOp)
		assert.Positive(t, c.PerOp, c.Name)
		// The garbage collector's share moves with when its cycles
		// fall, so the more a chain allocates (failsafe-go: 19 per op),
		// the more its count moves.
		tolerance := 0.10
		if i == 0 { // outbound's, one allocation per op
			tolerance = 0.03
		}
		assert.InDelta(t, c.PerOp, second[i].PerOp, max(tolerance*c.PerOp, 40), c.Name)
	}
}

// A comparison the count does not know, and a bad range, are errors.
func TestInstructionCountRefusesWhatItCannotCount(t *testing.T) {
	_, err := CountInstructions(t.Context(), "durable")
	assert.ErrorContains(t, err, `"durable"`)
	_, err = countInstructions(t.Context(), "pipeline", 10, 10)
	assert.ErrorContains(t, err, "lo < hi")
}
