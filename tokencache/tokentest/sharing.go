package tokentest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

// RunSharingTests checks that Caches in separate processes, sharing a token
// through a store, mint one token between them. newStores is called once
// per subtest and must return n Store values that share one fresh, empty
// namespace but nothing else (each its own pool, client or process-like
// state), so that each Cache behaves like a separate process; it cleans up
// through t.Cleanup.
//
// The tests run in real time against the store's clock, using tokens that
// live about two seconds; the suite takes under ten seconds (no time with
// InSynctest).
func RunSharingTests(t *testing.T, newStores func(t *testing.T, n int) []tokencache.Store, opts ...Option) {
	t.Helper()
	s := newSuite(opts)
	s.run(t, "OneMintPerCycle", func(t *testing.T) { testOneMintPerCycle(t, newStores(t, 3)) })
	s.run(t, "InvalidateKeepsNewer", func(t *testing.T) { testInvalidateKeepsNewer(t, newStores(t, 2)) })
	s.run(t, "CrashedLockHolder", func(t *testing.T) { testCrashedLockHolder(t, newStores(t, 5)) })
}

const sharedKey = "shared"

func newSharedCache(t *testing.T, src tokencache.Source, s tokencache.Store, cfg tokencache.Config) *tokencache.Cache {
	t.Helper()
	cfg.Store, cfg.Key = s, sharedKey
	c, err := tokencache.New(src, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testOneMintPerCycle hammers three caches ("processes") over several token
// lifetimes and checks that no token was minted while the previous one was
// still fresh, which is what a second mint in the same cycle would be.
func testOneMintPerCycle(t *testing.T, stores []tokencache.Store) {
	iss := NewIssuer(IssuerConfig{TTL: 2 * time.Second})
	// Minting takes a network round trip, which is when the others would
	// pile in.
	src := tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
		time.Sleep(20 * time.Millisecond)
		return iss.Source().Token(ctx)
	})
	cfg := tokencache.Config{PollInterval: 10 * time.Millisecond, LockTTL: 5 * time.Second}
	var caches []*tokencache.Cache
	for _, s := range stores {
		caches = append(caches, newSharedCache(t, src, s, cfg))
	}

	const wantMints = 4 // the first token and three refresh cycles
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range caches {
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil && iss.Mints() < wantMints {
					tok, err := c.Token(ctx)
					if ctx.Err() != nil {
						return
					}
					if !assert.NoError(t, err) || !assert.True(t, iss.Valid(tok.Value), "cache handed out an invalid token") {
						cancel()
						return
					}
					time.Sleep(2 * time.Millisecond) // pace the load; not a synchronisation
				}
			})
		}
	}
	wg.Wait()
	require.NoError(t, ctx.Err(), "did not see %d expiry cycles in time", wantMints-1)

	issued := iss.Issued()
	require.GreaterOrEqual(t, len(issued), wantMints)
	for i := 1; i < len(issued); i++ {
		prev := issued[i-1]
		life := prev.Expiry.Sub(prev.IssuedAt)
		// A refresh starts at most a quarter of the lifetime before
		// expiry; a duplicate mint would come right after the previous.
		assert.False(t, issued[i].IssuedAt.Before(prev.Expiry.Add(-life/2)),
			"token %d minted %v after token %d, while that one had %v of %v left: two mints in one cycle",
			i+1, issued[i].IssuedAt.Sub(prev.IssuedAt), i, prev.Expiry.Sub(issued[i].IssuedAt), life)
	}
}

// testInvalidateKeepsNewer: one process invalidates a rejected token and
// mints a new one; another process reporting the same rejected token later
// must not throw the new one away.
func testInvalidateKeepsNewer(t *testing.T, stores []tokencache.Store) {
	ctx := t.Context()
	iss := NewIssuer(IssuerConfig{})
	a := newSharedCache(t, iss.Source(), stores[0], tokencache.Config{})
	b := newSharedCache(t, iss.Source(), stores[1], tokencache.Config{})

	old, err := a.Token(ctx)
	require.NoError(t, err)
	fromB, err := b.Token(ctx)
	require.NoError(t, err)
	require.True(t, old.Value == fromB.Value, "second process minted instead of sharing")
	require.Equal(t, 1, iss.Mints())

	require.NoError(t, a.Invalidate(ctx, old))
	newer, err := a.Token(ctx)
	require.NoError(t, err)
	require.False(t, newer.Value == old.Value, "invalidated token handed out again")
	require.Equal(t, 2, iss.Mints())

	require.NoError(t, b.Invalidate(ctx, old))
	got, err := b.Token(ctx)
	require.NoError(t, err)
	require.True(t, got.Value == newer.Value, "the late invalidation removed the newer token")
	require.Equal(t, 2, iss.Mints(), "the late invalidation caused another mint")
}

// testCrashedLockHolder: a lock taken and never released delays the
// processes waiting for it until it expires; then one of them takes it over
// and mints, and the others pick up that token instead of minting their
// own, all within a bound.
func testCrashedLockHolder(t *testing.T, stores []tokencache.Store) {
	const (
		// Every process uses the same LockTTL, the crashed one too, so
		// the waiters' patience runs out just as the lock expires. It is
		// long enough that a loaded machine cannot make the new holder's
		// lock expire while it mints.
		lockTTL  = time.Second
		mintTime = 50 * time.Millisecond
	)
	iss := NewIssuer(IssuerConfig{})
	slow := tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
		time.Sleep(mintTime) // the issuer's round trip, while the others poll
		return iss.Source().Token(ctx)
	})
	var events []tokencache.Event
	var mu sync.Mutex
	cfg := tokencache.Config{
		LockTTL:      lockTTL,
		MintTimeout:  lockTTL / 2,
		PollInterval: 20 * time.Millisecond,
		OnEvent: func(e tokencache.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		},
	}
	caches := make([]*tokencache.Cache, len(stores))
	for i, s := range stores {
		caches[i] = newSharedCache(t, slow, s, cfg)
	}
	ok, err := stores[0].TryLock(t.Context(), sharedKey, "crashed-process", lockTTL)
	require.NoError(t, err)
	require.True(t, ok)

	// The bound is generous: it only keeps a broken store from hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 10*lockTTL)
	defer cancel()
	tokens := make([]tokencache.Token, len(caches))
	errs := make([]error, len(caches))
	var wg sync.WaitGroup
	for i, c := range caches {
		wg.Go(func() { tokens[i], errs[i] = c.Token(ctx) })
	}
	wg.Wait()
	for i := range caches {
		require.NoError(t, errs[i], "process %d: refresh blocked by a crashed lock holder", i)
	}
	require.Equal(t, 1, iss.Mints(), "the processes waiting on a crashed lock holder minted more than one token")
	for i := range caches {
		require.True(t, tokens[i].Value == tokens[0].Value, "process %d got a different token", i)
	}
	require.True(t, iss.Valid(tokens[0].Value))
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		require.NotEqual(t, tokencache.EventStoreError, e.Kind, "store error: %v", e.Err)
		require.NotEqual(t, tokencache.EventLockTimeout, e.Kind, "a process gave up waiting for a live lock holder")
	}
}
