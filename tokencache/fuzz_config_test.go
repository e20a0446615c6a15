package tokencache_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

// FuzzConfig builds a Config from fuzzed durations: New returns an error
// naming a Config field, or a cache that hands out a token (or, with a
// failing source, an error) and closes, never a panic or a hang.
func FuzzConfig(f *testing.F) {
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, int64(time.Second)} {
		f.Add(v, v, v, v, v, v, v, v, false, false)
		f.Add(int64(0), v, int64(0), int64(0), v, int64(0), v, v, true, false)
		f.Add(v, int64(0), v, int64(time.Millisecond), int64(0), v, int64(0), int64(0), false, true)
	}
	f.Fuzz(func(t *testing.T, skew, ttl, lockTTL, poll, mint, store, backoff, maxBackoff int64, failing, proactive bool) {
		synctest.Test(t, func(t *testing.T) {
			src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
				if failing {
					return tokencache.Token{}, errors.New("issuer down")
				}
				return tokencache.Token{Value: "opaque-token"}, nil
			})
			c, err := tokencache.New(src, tokencache.Config{
				Skew: time.Duration(skew), TTL: time.Duration(ttl), LockTTL: time.Duration(lockTTL), PollInterval: time.Duration(poll),
				MintTimeout: time.Duration(mint), StoreTimeout: time.Duration(store), FailureBackoff: time.Duration(backoff),
				MaxFailureBackoff: time.Duration(maxBackoff), ProactiveRefresh: proactive,
			})
			if err != nil {
				assert.Contains(t, err.Error(), "tokencache: Config.")
				return
			}
			defer func() { require.NoError(t, c.Close()) }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for range 3 {
				tok, err := c.Token(ctx)
				if failing {
					assert.Error(t, err)
					continue
				}
				require.NoError(t, err)
				assert.Equal(t, "opaque-token", tok.Value)
			}
		})
	})
}
