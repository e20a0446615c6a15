package tokencache_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// TestTokenErrorsAreUnavailable: whenever Token cannot hand out a token, the
// partner was never contacted, so the error must be class Unavailable (a
// dispatcher defers the record without counting an attempt), keep its cause
// for errors.Is, and carry a Retry-After hint where the cache knows one.
func TestTokenErrorsAreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		run        func(t *testing.T) error
		is         error
		retryAfter time.Duration // 0: no hint
		text       string        // in the message, if set
	}{
		{
			name: "caller's ctx canceled before the call",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{})
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				_, err := c.Token(ctx)
				return err
			},
			is:   context.Canceled,
			text: "tokencache: waiting for token: context canceled",
		},
		{
			name: "caller's deadline passes while the mint is slow",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, gated(iss.Source(), make(chan struct{})), tokencache.Config{})
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				_, err := c.Token(ctx)
				return err
			},
			is:   context.DeadlineExceeded,
			text: "tokencache: waiting for token: context deadline exceeded",
		},
		{
			name: "caller's deadline passes while another process holds the lock",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				store := &tokencache.MemoryStore{}
				c := newCache(t, iss.Source(), tokencache.Config{Store: store})
				ok, err := store.TryLock(t.Context(), tokencache.DefaultKey, "other", time.Hour)
				require.NoError(t, err)
				require.True(t, ok)
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				_, err = c.Token(ctx)
				return err
			},
			is: context.DeadlineExceeded,
		},
		{
			name: "closed cache",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{})
				require.NoError(t, c.Close())
				_, err := c.Token(t.Context())
				return err
			},
			is: tokencache.ErrClosed,
		},
		{
			name: "invalidate on a closed cache",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{})
				require.NoError(t, c.Close())
				return c.Invalidate(t.Context(), tokencache.Token{Value: "rejected"})
			},
			is: tokencache.ErrClosed,
		},
		{
			name: "closed during the refresh",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, gated(iss.Source(), make(chan struct{})), tokencache.Config{})
				time.AfterFunc(time.Second, func() { _ = c.Close() })
				_, err := c.Token(t.Context())
				return err
			},
			is: tokencache.ErrClosed,
		},
		{
			name: "mint fails",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{FailureBackoff: 2 * time.Second})
				iss.FailNext(1)
				_, err := c.Token(t.Context())
				return err
			},
			is:         tokentest.ErrIssuerFailing,
			retryAfter: 2 * time.Second,
		},
		{
			name: "mint fails again: the hint is the doubled pause",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{FailureBackoff: 2 * time.Second})
				iss.FailNext(2)
				_, err := c.Token(t.Context())
				require.Error(t, err)
				time.Sleep(2 * time.Second)
				_, err = c.Token(t.Context())
				return err
			},
			is:         tokentest.ErrIssuerFailing,
			retryAfter: 4 * time.Second,
		},
		{
			name: "store down and mint failing",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{Store: failingStore{}})
				iss.FailNext(1)
				_, err := c.Token(t.Context())
				return err
			},
			is:         tokentest.ErrIssuerFailing,
			retryAfter: tokencache.DefaultFailureBackoff,
		},
		{
			name: "backoff pause after a failure",
			run: func(t *testing.T) error {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
				c := newCache(t, iss.Source(), tokencache.Config{})
				iss.FailNext(1)
				_, err := c.Token(t.Context())
				require.Error(t, err)
				time.Sleep(300 * time.Millisecond)
				_, err = c.Token(t.Context())
				return err
			},
			is:         tokencache.ErrBackoff,
			retryAfter: tokencache.DefaultFailureBackoff - 300*time.Millisecond,
		},
		{
			name: "source returns an unusable token",
			run: func(t *testing.T) error {
				src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
					return tokencache.Token{Value: "expired", Expiry: time.Now().Add(-time.Minute)}, nil
				})
				c := newCache(t, src, tokencache.Config{})
				_, err := c.Token(t.Context())
				return err
			},
			retryAfter: tokencache.DefaultFailureBackoff,
			text:       "tokencache: mint: token expires too soon",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				err := tc.run(t)
				require.Error(t, err)
				require.Equal(t, classify.ClassUnavailable, classify.Of(err), "error %q", err)
				require.False(t, classify.Of(err).CountsAttempt())
				if tc.is != nil {
					require.ErrorIs(t, err, tc.is)
				}
				ra, ok := classify.RetryAfter(err)
				require.Equal(t, tc.retryAfter, ra)
				require.Equal(t, tc.retryAfter > 0, ok)
				if tc.text != "" {
					require.ErrorContains(t, err, tc.text)
				}
			})
		})
	}
}

// TestCanceledWaiterErrorKeepsTheRefreshGoing: the error a caller gets when
// it stops waiting is Unavailable, and the shared refresh still completes
// for the others (see also TestCallerContextEndsWaitNotRefresh).
func TestCanceledWaiterErrorKeepsTheRefreshGoing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		release := make(chan struct{})
		c := newCache(t, gated(iss.Source(), release), tokencache.Config{})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		_, err := c.Token(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, classify.ClassUnavailable, classify.Of(err))

		close(release)
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.True(t, iss.Valid(tok.Value))
		require.Equal(t, 1, iss.Mints())
	})
}
