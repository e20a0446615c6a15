package postgres

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Doubling the reconnect delay towards a MaxReconnectDelay near the largest
// Duration wrapped to a negative wait, and the listener reconnected in a
// tight loop.
func TestReconnectDelayDoublingSaturates(t *testing.T) {
	for _, maxDelay := range []time.Duration{math.MaxInt64, math.MaxInt64 - 1, DefaultMaxReconnectDelay} {
		d := 100 * time.Millisecond
		for range 200 {
			next := nextReconnectDelay(d, maxDelay)
			assert.GreaterOrEqual(t, next, d, "max %v", maxDelay)
			d = next
		}
		assert.Equal(t, maxDelay, d)
	}
}
