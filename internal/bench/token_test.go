package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkToken(b *testing.B) {
	for _, c := range TokenContenders() {
		b.Run(c.Name, Serial(c))
		b.Run(c.Name+"/parallel", Parallel(c, 4))
	}
}

func TestTokenContendersHit(t *testing.T) {
	for _, c := range TokenContenders() {
		t.Run(c.Name, func(t *testing.T) {
			op, done, err := c.Setup()
			require.NoError(t, err)
			if done != nil {
				defer done()
			}
			for range 100 {
				require.NoError(t, op(context.Background()))
			}
		})
	}
}
