package tokencache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func newCache(t *testing.T, src tokencache.Source, cfg tokencache.Config) *tokencache.Cache {
	t.Helper()
	c, err := tokencache.New(src, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// gated returns a source that blocks each mint until release is closed.
func gated(src tokencache.Source, release <-chan struct{}) tokencache.Source {
	return tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return tokencache.Token{}, ctx.Err()
		}
		return src.Token(ctx)
	})
}

func TestTokenConcurrentCallersMintOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		release := make(chan struct{})
		store := &countingStore{Store: &tokencache.MemoryStore{}}
		c := newCache(t, gated(iss.Source(), release), tokencache.Config{Store: store})

		const callers = 10_000
		tokens := make([]tokencache.Token, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { tokens[i], errs[i] = c.Token(t.Context()) })
		}
		synctest.Wait() // every caller is now waiting on the one refresh
		close(release)
		wg.Wait()

		require.Equal(t, 1, iss.Mints())
		require.EqualValues(t, 1, store.locks.Load(), "more than one refresh in the process")
		require.EqualValues(t, 2, store.loads.Load(), "one refresh reads the store before and after locking")
		for i := range callers {
			require.NoError(t, errs[i])
			require.True(t, tokens[i].Value == tokens[0].Value, "caller %d got a different token", i)
		}
		require.True(t, iss.Valid(tokens[0].Value))
	})
}

func TestTokenConcurrentCallersMintOnceRealTime(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	c := newCache(t, iss.Source(), tokencache.Config{})
	const callers = 10_000
	start := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range callers {
		wg.Go(func() {
			<-start
			if _, err := c.Token(t.Context()); err != nil {
				bad.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Zero(t, bad.Load())
	require.Equal(t, 1, iss.Mints())
}

func TestTokenExpiryAndSkew(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ttl      time.Duration // issuer lifetime
		skew     time.Duration // Config.Skew
		wantSkew time.Duration // effective
	}{
		{"default skew is one minute for long tokens", time.Hour, 0, time.Minute},
		{"default skew is a tenth of a short lifetime", 5 * time.Minute, 0, 30 * time.Second},
		{"explicit skew", time.Hour, 5 * time.Minute, 5 * time.Minute},
		{"explicit skew is capped at a quarter of the lifetime", 4 * time.Minute, 2 * time.Minute, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: tc.ttl})
				c := newCache(t, iss.Source(), tokencache.Config{Skew: tc.skew})
				ctx := t.Context()

				first, err := c.Token(ctx)
				require.NoError(t, err)
				require.Equal(t, 1, iss.Mints())
				require.Equal(t, time.Now().Add(tc.ttl), first.Expiry, "expiry read from the JWT exp claim")

				time.Sleep(tc.ttl - tc.wantSkew - time.Second)
				tok, err := c.Token(ctx)
				require.NoError(t, err)
				require.True(t, tok.Value == first.Value, "refreshed before the skew")
				require.Equal(t, 1, iss.Mints())

				time.Sleep(time.Second)
				synctest.Wait() // the staleness timer fires at this very instant
				tok, err = c.Token(ctx)
				require.NoError(t, err)
				require.False(t, tok.Value == first.Value, "handed out a token within the skew of its expiry")
				require.Equal(t, 2, iss.Mints())
				require.True(t, iss.Valid(tok.Value))
			})
		})
	}
}

func TestOpaqueTokenGetsTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mints atomic.Int32
		src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
			mints.Add(1)
			return tokencache.Token{Value: "opaque-token-value"}, nil
		})
		c := newCache(t, src, tokencache.Config{TTL: 5 * time.Minute})
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.Equal(t, time.Now().Add(5*time.Minute), tok.Expiry)
		require.Equal(t, "Bearer", tok.Type)
		require.Equal(t, time.Now(), tok.IssuedAt)

		time.Sleep(5*time.Minute - 30*time.Second - time.Nanosecond) // default skew: 10% of 5m
		_, err = c.Token(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 1, mints.Load())
		time.Sleep(time.Nanosecond)
		synctest.Wait() // the staleness timer fires at this very instant
		_, err = c.Token(t.Context())
		require.NoError(t, err)
		require.EqualValues(t, 2, mints.Load())
	})
}

func TestSharedStoreSparesTheMint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &tokencache.MemoryStore{}
		var rec recorder
		a := newCache(t, iss.Source(), tokencache.Config{Store: store})
		b := newCache(t, iss.Source(), tokencache.Config{Store: store, OnEvent: rec.record})

		ta, err := a.Token(t.Context())
		require.NoError(t, err)
		tb, err := b.Token(t.Context())
		require.NoError(t, err)
		require.True(t, ta.Value == tb.Value)
		require.Equal(t, 1, iss.Mints())
		require.Equal(t, 1, rec.count(tokencache.EventShared))
		require.Zero(t, rec.count(tokencache.EventMinted))
	})
}

func TestThreeProcessesMemoryStore(t *testing.T) {
	tokentest.RunSharingTests(t, func(t *testing.T, n int) []tokencache.Store {
		store := &tokencache.MemoryStore{}
		stores := make([]tokencache.Store, n)
		for i := range stores {
			stores[i] = store
		}
		return stores
	}, tokentest.InSynctest())
}

func TestCrashedLockHolderDelaysAtMostLockTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lockTTL = 15 * time.Second
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &tokencache.MemoryStore{}
		var rec recorder
		c := newCache(t, iss.Source(), tokencache.Config{Store: store, LockTTL: lockTTL, OnEvent: rec.record})

		ok, err := store.TryLock(t.Context(), tokencache.DefaultKey, "crashed", lockTTL)
		require.NoError(t, err)
		require.True(t, ok)

		start := time.Now()
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.Equal(t, lockTTL, time.Since(start), "waited other than exactly the lock TTL")
		require.True(t, iss.Valid(tok.Value))
		require.Equal(t, 1, iss.Mints())
		require.Zero(t, rec.count(tokencache.EventLockTimeout), "the expired lock should have been taken over")
	})
}

// TestCrashedLockHolderManyWaitersMintOnce: processes that all wait on a
// crashed holder's lock reach the end of its TTL together; one takes the
// expired lock and mints, and the others wait for its token instead of
// minting their own.
func TestCrashedLockHolderManyWaitersMintOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			processes = 5
			lockTTL   = 15 * time.Second
			mintTime  = 50 * time.Millisecond
		)
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		slow := tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
			time.Sleep(mintTime) // the issuer's round trip
			return iss.Source().Token(ctx)
		})
		store := &tokencache.MemoryStore{}
		var rec recorder
		caches := make([]*tokencache.Cache, processes)
		for i := range caches {
			caches[i] = newCache(t, slow, tokencache.Config{Store: store, LockTTL: lockTTL, OnEvent: rec.record})
		}
		ok, err := store.TryLock(t.Context(), tokencache.DefaultKey, "crashed", lockTTL)
		require.NoError(t, err)
		require.True(t, ok)

		start := time.Now()
		tokens := make([]tokencache.Token, processes)
		errs := make([]error, processes)
		waited := make([]time.Duration, processes)
		var wg sync.WaitGroup
		for i, c := range caches {
			wg.Go(func() {
				tokens[i], errs[i] = c.Token(t.Context())
				waited[i] = time.Since(start)
			})
		}
		wg.Wait()

		require.Equal(t, 1, iss.Mints(), "every waiter minted its own token")
		require.Zero(t, rec.count(tokencache.EventLockTimeout), "a waiter gave up on a live lock holder")
		var minter, pollers int
		for i := range caches {
			require.NoError(t, errs[i])
			require.True(t, tokens[i].Value == tokens[0].Value, "process %d got a different token", i)
			switch waited[i] {
			case lockTTL + mintTime: // took the expired lock and minted
				minter++
			case lockTTL + tokencache.DefaultPollInterval: // found it on the next poll
				pollers++
			default:
				t.Errorf("process %d waited %v", i, waited[i])
			}
		}
		require.Equal(t, 1, minter)
		require.Equal(t, processes-1, pollers)
		require.True(t, iss.Valid(tokens[0].Value))
	})
}

func TestLockWaiterTakesWinnersToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &tokencache.MemoryStore{}
		c := newCache(t, iss.Source(), tokencache.Config{Store: store, PollInterval: time.Second})

		// Another process holds the lock and stores its token 2.5s later.
		ok, err := store.TryLock(t.Context(), tokencache.DefaultKey, "other", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		winner, err := iss.Source().Token(t.Context())
		require.NoError(t, err)
		winner.Expiry = time.Now().Add(time.Hour)
		winner.IssuedAt = time.Now()
		go func() {
			time.Sleep(2500 * time.Millisecond)
			_ = store.Save(context.Background(), tokencache.DefaultKey, winner)
		}()

		start := time.Now()
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.True(t, tok.Value == winner.Value)
		require.Equal(t, 3*time.Second, time.Since(start), "found on the third poll")
		require.Equal(t, 1, iss.Mints(), "only the other process minted")
	})
}

// TestLockNeverFreedMintsAfterWaitBound: a lock that stays taken (a store
// that never grants it) is waited for 2*LockTTL + MintTimeout, then the
// cache mints without it rather than stop sending.
func TestLockNeverFreedMintsAfterWaitBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		var rec recorder
		store := stuckLockStore{&tokencache.MemoryStore{}}
		c := newCache(t, iss.Source(), tokencache.Config{
			Store: store, LockTTL: 5 * time.Second, MintTimeout: 3 * time.Second, OnEvent: rec.record,
		})
		start := time.Now()
		_, err := c.Token(t.Context())
		require.NoError(t, err)
		require.Equal(t, 2*5*time.Second+3*time.Second, time.Since(start))
		require.Equal(t, 1, rec.count(tokencache.EventLockTimeout))
		require.Equal(t, 1, iss.Mints())
	})
}

// TestLockWaiterMintsAtOnceWhenStoreFails: a waiter keeps waiting for a
// lock someone holds only while the store answers; when the store goes down
// it mints at once rather than wait out the bound.
func TestLockWaiterMintsAtOnceWhenStoreFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		store := &downableStore{MemoryStore: &tokencache.MemoryStore{}}
		var rec recorder
		c := newCache(t, iss.Source(), tokencache.Config{Store: store, OnEvent: rec.record})
		ok, err := store.TryLock(t.Context(), tokencache.DefaultKey, "other", time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
		// Down between two polls (every 100ms), so the next poll is the
		// first to see it.
		time.AfterFunc(950*time.Millisecond, func() { store.down.Store(true) })

		start := time.Now()
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.True(t, iss.Valid(tok.Value))
		require.Equal(t, time.Second, time.Since(start), "kept waiting after the store went down")
		require.Equal(t, 1, iss.Mints())
		require.Zero(t, rec.count(tokencache.EventLockTimeout))
		require.Positive(t, rec.count(tokencache.EventStoreError))
	})
}

// downableStore is a MemoryStore whose lock and load fail once down is set.
type downableStore struct {
	*tokencache.MemoryStore
	down atomic.Bool
}

func (s *downableStore) Load(ctx context.Context, key string) (tokencache.Token, error) {
	if s.down.Load() {
		return tokencache.Token{}, errStoreDown
	}
	return s.MemoryStore.Load(ctx, key)
}

func (s *downableStore) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if s.down.Load() {
		return false, errStoreDown
	}
	return s.MemoryStore.TryLock(ctx, key, owner, ttl)
}

// countingStore counts the store operations a cache makes.
type countingStore struct {
	tokencache.Store
	loads, locks atomic.Int32
}

func (s *countingStore) Load(ctx context.Context, key string) (tokencache.Token, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, key)
}

func (s *countingStore) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	s.locks.Add(1)
	return s.Store.TryLock(ctx, key, owner, ttl)
}

// stuckLockStore never grants its lock, like a store whose lock is held by
// a holder that keeps renewing it.
type stuckLockStore struct{ *tokencache.MemoryStore }

func (stuckLockStore) TryLock(context.Context, string, string, time.Duration) (bool, error) {
	return false, nil
}

func TestCallerContextEndsWaitNotRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		release := make(chan struct{})
		c := newCache(t, gated(iss.Source(), release), tokencache.Config{})

		impatient, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var impatientErr, patientErr error
		var patientTok tokencache.Token
		wg.Go(func() { _, impatientErr = c.Token(impatient) })
		wg.Go(func() { patientTok, patientErr = c.Token(t.Context()) })
		synctest.Wait()
		cancel()
		synctest.Wait()
		require.ErrorIs(t, impatientErr, context.Canceled, "the canceled caller still waits")
		require.Equal(t, classify.ClassUnavailable, classify.Of(impatientErr))

		close(release)
		wg.Wait()
		require.NoError(t, patientErr)
		require.True(t, iss.Valid(patientTok.Value))
		require.Equal(t, 1, iss.Mints())
	})
}

func TestMintFailuresAreNotCachedButPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		var rec recorder
		c := newCache(t, iss.Source(), tokencache.Config{OnEvent: rec.record})
		ctx := t.Context()
		iss.FailNext(1000)

		_, err := c.Token(ctx)
		require.ErrorIs(t, err, tokentest.ErrIssuerFailing)
		require.Equal(t, classify.ClassUnavailable, classify.Of(err))
		require.Equal(t, 1, iss.Attempts())

		// Waiters do not take turns at the issuer: they fail at once.
		for range 1000 {
			_, err = c.Token(ctx)
			require.ErrorIs(t, err, tokencache.ErrBackoff)
			require.ErrorIs(t, err, tokentest.ErrIssuerFailing, "the backoff error keeps its cause")
		}
		require.Equal(t, 1, iss.Attempts())
		ra, ok := classify.RetryAfter(err)
		require.True(t, ok)
		require.Equal(t, time.Second, ra)

		// The pause doubles: attempts at 1s, 3s, 7s.
		for _, pause := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			time.Sleep(pause - time.Nanosecond)
			_, err = c.Token(ctx)
			require.ErrorIs(t, err, tokencache.ErrBackoff)
			time.Sleep(time.Nanosecond)
			_, err = c.Token(ctx)
			require.ErrorIs(t, err, tokentest.ErrIssuerFailing)
			require.NotErrorIs(t, err, tokencache.ErrBackoff)
		}
		require.Equal(t, 4, iss.Attempts())
		require.Equal(t, 4, rec.count(tokencache.EventMintFailed))

		// The issuer recovers: the next attempt after the pause succeeds,
		// and nothing of the failure is remembered.
		iss.FailNext(0)
		time.Sleep(8 * time.Second)
		tok, err := c.Token(ctx)
		require.NoError(t, err)
		require.True(t, iss.Valid(tok.Value))
		require.Equal(t, 1, iss.Mints())
	})
}

func TestBackoffIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		c := newCache(t, iss.Source(), tokencache.Config{FailureBackoff: time.Second, MaxFailureBackoff: 3 * time.Second})
		iss.FailNext(1000)
		for range 10 {
			_, err := c.Token(t.Context())
			require.ErrorIs(t, err, tokentest.ErrIssuerFailing)
			_, err = c.Token(t.Context())
			ra, _ := classify.RetryAfter(err)
			require.LessOrEqual(t, ra, 3*time.Second)
			time.Sleep(ra)
		}
	})
}

func TestFailedRefreshServesUnexpiredToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour})
		c := newCache(t, iss.Source(), tokencache.Config{})
		first, err := c.Token(t.Context())
		require.NoError(t, err)

		iss.FailNext(1000)
		time.Sleep(time.Hour - 30*time.Second) // within the skew, not expired
		tok, err := c.Token(t.Context())
		require.NoError(t, err)
		require.True(t, tok.Value == first.Value, "the old, still valid token should be served")
		tok, err = c.Token(t.Context()) // during the backoff pause
		require.NoError(t, err)
		require.True(t, tok.Value == first.Value)

		time.Sleep(30 * time.Second) // expired now
		_, err = c.Token(t.Context())
		require.Error(t, err)
		require.Equal(t, classify.ClassUnavailable, classify.Of(err))
	})
}

func TestUnusableMintedTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		tok  tokencache.Token
	}{
		{"empty", tokencache.Token{}},
		{"header injection", tokencache.Token{Value: "abc\r\nX-Evil: 1"}},
		{"space", tokencache.Token{Value: "abc def"}},
		{"already expired", tokencache.Token{Value: "abc", Expiry: time.Unix(1, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var rec recorder
				src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) { return tc.tok, nil })
				c := newCache(t, src, tokencache.Config{OnEvent: rec.record})
				_, err := c.Token(t.Context())
				require.Error(t, err)
				require.Equal(t, classify.ClassUnavailable, classify.Of(err))
				require.Equal(t, 1, rec.count(tokencache.EventMintFailed))
				if tc.tok.Value != "" {
					require.NotContains(t, err.Error(), tc.tok.Value)
				}
			})
		})
	}
}

// failingStore fails every operation, like a store whose database is down.
type failingStore struct{}

var errStoreDown = errors.New("store is down")

func (failingStore) Load(context.Context, string) (tokencache.Token, error) {
	return tokencache.Token{}, errStoreDown
}
func (failingStore) Save(context.Context, string, tokencache.Token) error { return errStoreDown }
func (failingStore) CompareAndDelete(context.Context, string, string) (bool, error) {
	return false, errStoreDown
}
func (failingStore) TryLock(context.Context, string, string, time.Duration) (bool, error) {
	return false, errStoreDown
}
func (failingStore) Unlock(context.Context, string, string) error { return errStoreDown }

func TestStoreFailureFailsOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		var rec recorder
		c := newCache(t, iss.Source(), tokencache.Config{Store: failingStore{}, OnEvent: rec.record})
		for range 100 {
			tok, err := c.Token(t.Context())
			require.NoError(t, err)
			require.True(t, iss.Valid(tok.Value))
		}
		require.Equal(t, 1, iss.Mints(), "the in-process cache still holds the token")
		require.Equal(t, 3, rec.count(tokencache.EventStoreError), "load, lock and save failed once each")

		err := c.Invalidate(t.Context(), tokencache.Token{Value: "whatever"})
		require.ErrorIs(t, err, errStoreDown)
	})
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		c, err := tokencache.New(iss.Source(), tokencache.Config{ProactiveRefresh: true})
		require.NoError(t, err)
		synctest.Wait()
		tok, err := c.Token(t.Context())
		require.NoError(t, err)

		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "second Close")
		_, err = c.Token(t.Context())
		require.ErrorIs(t, err, tokencache.ErrClosed)
		require.ErrorIs(t, c.Invalidate(t.Context(), tok), tokencache.ErrClosed)
	})
}

func TestCloseDuringRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
		c, err := tokencache.New(gated(iss.Source(), make(chan struct{})), tokencache.Config{})
		require.NoError(t, err)
		var tokErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, tokErr = c.Token(t.Context())
		}()
		synctest.Wait()
		require.NoError(t, c.Close()) // cancels the gated mint and waits for it
		<-done
		require.ErrorIs(t, tokErr, tokencache.ErrClosed)
		require.Zero(t, iss.Mints())
	})
}

func TestNewValidatesConfig(t *testing.T) {
	src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) { return tokencache.Token{}, nil })
	_, err := tokencache.New(nil, tokencache.Config{})
	require.ErrorContains(t, err, "source is nil")
	for _, tc := range []struct {
		cfg   tokencache.Config
		field string
	}{
		{tokencache.Config{Skew: -1}, "Config.Skew"},
		{tokencache.Config{TTL: -1}, "Config.TTL"},
		{tokencache.Config{LockTTL: -1}, "Config.LockTTL"},
		{tokencache.Config{LockTTL: time.Microsecond}, "Config.LockTTL"},
		{tokencache.Config{PollInterval: -1}, "Config.PollInterval"},
		{tokencache.Config{PollInterval: time.Minute, LockTTL: time.Second}, "Config.PollInterval"},
		{tokencache.Config{MintTimeout: -1}, "Config.MintTimeout"},
		{tokencache.Config{StoreTimeout: -1}, "Config.StoreTimeout"},
		{tokencache.Config{FailureBackoff: -1}, "Config.FailureBackoff"},
		{tokencache.Config{MaxFailureBackoff: -1}, "Config.MaxFailureBackoff"},
		{tokencache.Config{FailureBackoff: time.Hour}, "Config.MaxFailureBackoff"},
	} {
		_, err := tokencache.New(src, tc.cfg)
		if assert.Error(t, err, tc.field) {
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), "tokencache: ")
		}
	}
	c, err := tokencache.New(src, tokencache.Config{})
	require.NoError(t, err, "the zero Config is valid")
	require.NoError(t, c.Close())
}
