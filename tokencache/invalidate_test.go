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

func TestInvalidateDropsRejectedToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &tokencache.MemoryStore{}
		var rec recorder
		c := newCache(t, iss.Source(), tokencache.Config{Store: store, OnEvent: rec.record})
		ctx := t.Context()

		first, err := c.Token(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Invalidate(ctx, first))
		require.Equal(t, 1, rec.count(tokencache.EventInvalidated))
		_, err = store.Load(ctx, tokencache.DefaultKey)
		require.ErrorIs(t, err, tokencache.ErrNotFound, "the store still holds the rejected token")

		second, err := c.Token(ctx)
		require.NoError(t, err)
		require.False(t, second.Value == first.Value)
		require.Equal(t, 2, iss.Mints())

		// Invalidating the same token again (another goroutine's late 401)
		// changes nothing.
		require.NoError(t, c.Invalidate(ctx, first))
		again, err := c.Token(ctx)
		require.NoError(t, err)
		require.True(t, again.Value == second.Value)
		require.Equal(t, 2, iss.Mints())
		require.Equal(t, 1, rec.count(tokencache.EventInvalidated))

		require.NoError(t, c.Invalidate(ctx, tokencache.Token{}), "an empty token is ignored")
	})
}

func TestInvalidateKeepsNewerStoredToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &tokencache.MemoryStore{}
		c := newCache(t, iss.Source(), tokencache.Config{Store: store})
		ctx := t.Context()
		old, err := c.Token(ctx)
		require.NoError(t, err)

		// Another process replaced the token meanwhile.
		newer, err := iss.Source().Token(ctx)
		require.NoError(t, err)
		newer.Expiry, newer.IssuedAt = time.Now().Add(time.Hour), time.Now()
		require.NoError(t, store.Save(ctx, tokencache.DefaultKey, newer))

		require.NoError(t, c.Invalidate(ctx, old))
		stored, err := store.Load(ctx, tokencache.DefaultKey)
		require.NoError(t, err)
		require.True(t, stored.Value == newer.Value, "invalidating the old token removed the newer one")

		got, err := c.Token(ctx)
		require.NoError(t, err)
		require.True(t, got.Value == newer.Value)
		require.Equal(t, 2, iss.Mints(), "no mint: the newer token was picked up from the store")
	})
}

func TestInvalidateRejectedTokenIsNotReloaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		// A store whose delete fails keeps the rejected token; the cache
		// must not take it back.
		store := &noDeleteStore{&tokencache.MemoryStore{}}
		c := newCache(t, iss.Source(), tokencache.Config{Store: store})
		ctx := t.Context()
		old, err := c.Token(ctx)
		require.NoError(t, err)
		require.Error(t, c.Invalidate(ctx, old))
		got, err := c.Token(ctx)
		require.NoError(t, err)
		require.False(t, got.Value == old.Value, "the rejected token came back from the store")
		stored, err := store.Load(ctx, tokencache.DefaultKey)
		require.NoError(t, err)
		require.True(t, stored.Value == got.Value, "the new token replaced it in the store")
	})
}

type noDeleteStore struct{ *tokencache.MemoryStore }

func (noDeleteStore) CompareAndDelete(context.Context, string, string) (bool, error) {
	return false, errStoreDown
}

func TestRepeatedRejectionsArePaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		c := newCache(t, iss.Source(), tokencache.Config{})
		ctx := t.Context()

		// A partner that rejects every token: the first rejection is
		// re-minted at once, later ones wait a doubling pause.
		tok, err := c.Token(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Invalidate(ctx, tok))
		tok, err = c.Token(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, iss.Mints())

		for i, pause := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			require.NoError(t, c.Invalidate(ctx, tok))
			for range 100 {
				_, err = c.Token(ctx)
				require.ErrorIs(t, err, tokencache.ErrBackoff)
			}
			require.Equal(t, 2+i, iss.Mints())
			time.Sleep(pause)
			tok, err = c.Token(ctx)
			require.NoError(t, err)
			require.Equal(t, 3+i, iss.Mints())
		}

		// After a quiet spell a rejection is free again.
		time.Sleep(2 * tokencache.DefaultMaxFailureBackoff)
		tok, err = c.Token(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Invalidate(ctx, tok))
		_, err = c.Token(ctx)
		require.NoError(t, err)
	})
}

func TestSourceReturningRejectedTokenIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Like an oauth2.ReuseTokenSource: the same token until it expires.
		src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
			return tokencache.Token{Value: "same-old-token", Expiry: time.Now().Add(time.Hour)}, nil
		})
		c := newCache(t, src, tokencache.Config{})
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.NoError(t, c.Invalidate(t.Context(), tok))
		_, err = c.Token(t.Context())
		require.ErrorContains(t, err, "source returned the token that was just rejected")
		_, err = c.Token(t.Context())
		require.ErrorIs(t, err, tokencache.ErrBackoff, "a source stuck on a rejected token must be paced")
	})
}
