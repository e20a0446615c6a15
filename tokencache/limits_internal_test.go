package tokencache

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Doubling the failure backoff towards a MaxFailureBackoff near the largest
// Duration wrapped to negative and then zero pauses: a failing issuer was
// asked again at once, forever.
func TestFailureBackoffDoublingSaturates(t *testing.T) {
	for _, max := range []time.Duration{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 / 3, time.Minute} {
		p := pacer{base: time.Second, max: max}
		prev := time.Duration(0)
		for n := 1; n <= 200; n++ {
			d := p.delay(n)
			assert.GreaterOrEqual(t, d, prev, "max %v, failure %d", max, n)
			assert.LessOrEqual(t, d, max)
			prev = d
		}
		assert.Equal(t, max, prev)
	}
}

// 2*LockTTL + MintTimeout wrapped negative for a LockTTL near the largest
// Duration, so a waiter gave up on a live holder's lock at once and minted
// a second token.
func TestLockWaitSaturates(t *testing.T) {
	cfg, err := Config{LockTTL: math.MaxInt64 / 2, PollInterval: time.Second, MintTimeout: math.MaxInt64}.withDefaults()
	assert.NoError(t, err)
	assert.Equal(t, time.Duration(math.MaxInt64), cfg.lockWait())
	cfg, err = Config{}.withDefaults()
	assert.NoError(t, err)
	assert.Equal(t, 2*DefaultLockTTL+DefaultMintTimeout, cfg.lockWait())
}
