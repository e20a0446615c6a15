package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingContender counts its ops per instance and records each
// instance's count when it is released.
type countingContender struct {
	mu     sync.Mutex
	counts []int64
	failAt int64 // the op that fails, 0 for none
}

func (c *countingContender) contender() Contender {
	return Contender{Name: "counting", Setup: func() (Op, func(), error) {
		var n atomic.Int64
		op := func(context.Context) error {
			if n.Add(1) == c.failAt {
				return errors.New("op failed on purpose")
			}
			return nil
		}
		return op, func() {
			c.mu.Lock()
			c.counts = append(c.counts, n.Load())
			c.mu.Unlock()
		}, nil
	}}
}

func TestConcurrentRunsExactlyNOps(t *testing.T) {
	cc := &countingContender{}
	r, err := Measure(cc.contender(), func(c Contender) func(*testing.B) { return Concurrent(c, 7) })
	require.NoError(t, err)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	require.NotEmpty(t, cc.counts)
	assert.Equal(t, int64(r.N), cc.counts[len(cc.counts)-1], "ops in the final run")
	assert.Contains(t, r.Extra, "ops/s")
}

func TestSerialRunsExactlyNOps(t *testing.T) {
	cc := &countingContender{}
	r, err := Measure(cc.contender(), Serial)
	require.NoError(t, err)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	assert.Equal(t, int64(r.N), cc.counts[len(cc.counts)-1])
}

func TestParallelRunsExactlyNOps(t *testing.T) {
	cc := &countingContender{}
	r, err := Measure(cc.contender(), func(c Contender) func(*testing.B) { return Parallel(c, 3) })
	require.NoError(t, err)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	assert.Equal(t, int64(r.N), cc.counts[len(cc.counts)-1])
}

func TestMeasureReportsTheOpError(t *testing.T) {
	for name, harness := range map[string]func(Contender) func(*testing.B){
		"serial":     Serial,
		"concurrent": func(c Contender) func(*testing.B) { return Concurrent(c, 3) },
		"parallel":   func(c Contender) func(*testing.B) { return Parallel(c, 3) },
	} {
		t.Run(name, func(t *testing.T) {
			cc := &countingContender{failAt: 1}
			_, err := Measure(cc.contender(), harness)
			assert.ErrorContains(t, err, "op failed on purpose")
		})
	}
}

func TestMeasureReportsASetupError(t *testing.T) {
	c := Contender{Name: "broken", Setup: func() (Op, func(), error) { return nil, nil, errors.New("no partner") }}
	_, err := Measure(c, Serial)
	assert.ErrorContains(t, err, "no partner")
	_, err = Measure(Contender{Name: "empty"}, Serial)
	assert.ErrorContains(t, err, "no Setup")
}
