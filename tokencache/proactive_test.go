package tokencache_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// slow returns a source whose mints take d.
func slow(src tokencache.Source, d time.Duration) tokencache.Source {
	return tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
		time.Sleep(d)
		return src.Token(ctx)
	})
}

func TestProactiveRefreshCallersNeverWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: 10 * time.Minute})
		c := newCache(t, slow(iss.Source(), 2*time.Second), tokencache.Config{ProactiveRefresh: true})

		// The first token is fetched at once, without any caller.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		require.Equal(t, 1, iss.Mints())

		// Call every 10 seconds for an hour: no call ever waits (time
		// stands still during a call unless it blocks on the mint).
		seen := 0
		var last string
		for range 6 * 60 {
			start := time.Now()
			tok, err := c.Token(t.Context())
			require.NoError(t, err)
			require.Zero(t, time.Since(start), "a caller waited for a mint")
			require.True(t, iss.Valid(tok.Value))
			if tok.Value != last {
				seen++
				last = tok.Value
			}
			time.Sleep(10 * time.Second)
		}
		// Renewal two skews (2m) before expiry: a token every 8 minutes.
		require.GreaterOrEqual(t, seen, 7)
		require.LessOrEqual(t, iss.Mints(), seen+1, "minted tokens nobody used")
		requireOneMintPerCycle(t, iss)
	})
}

// requireOneMintPerCycle checks that no token was minted while the previous
// one still had more than half its lifetime left.
func requireOneMintPerCycle(t *testing.T, iss *tokentest.Issuer) {
	t.Helper()
	issued := iss.Issued()
	for i := 1; i < len(issued); i++ {
		prev := issued[i-1]
		life := prev.Expiry.Sub(prev.IssuedAt)
		require.False(t, issued[i].IssuedAt.Before(prev.Expiry.Add(-life/2)), "token %d minted in token %d's cycle", i+1, i)
	}
}

func TestProactiveRefreshTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour})
		newCache(t, iss.Source(), tokencache.Config{ProactiveRefresh: true}) // skew 1m
		synctest.Wait()
		require.Equal(t, 1, iss.Mints())

		time.Sleep(time.Hour - 2*time.Minute - time.Nanosecond)
		synctest.Wait()
		require.Equal(t, 1, iss.Mints(), "refreshed too early")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		require.Equal(t, 2, iss.Mints(), "not refreshed two skews before expiry")
	})
}

func TestProactiveRefreshRetriesAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		iss.FailNext(2)
		newCache(t, iss.Source(), tokencache.Config{ProactiveRefresh: true})
		synctest.Wait()
		require.Equal(t, 1, iss.Attempts())
		time.Sleep(time.Second) // first pause
		synctest.Wait()
		require.Equal(t, 2, iss.Attempts())
		time.Sleep(2 * time.Second) // doubled
		synctest.Wait()
		require.Equal(t, 3, iss.Attempts())
		require.Equal(t, 1, iss.Mints())
	})
}

func TestProactiveRefreshSharedStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: 10 * time.Minute})
		store := &tokencache.MemoryStore{}
		for range 3 {
			newCache(t, slow(iss.Source(), time.Second), tokencache.Config{Store: store, ProactiveRefresh: true})
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		require.GreaterOrEqual(t, iss.Mints(), 7, "a token every 8 minutes")
		requireOneMintPerCycle(t, iss)
	})
}
