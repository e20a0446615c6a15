package tokentest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

// RunStoreTests runs the conformance suite every tokencache.Store must
// pass. newStore is called once per subtest and must return an empty store
// that no other subtest uses (its own schema, key prefix or instance),
// cleaned up through t.Cleanup.
//
// The lock-expiry subtest waits for a short real lock TTL to pass on the
// store's own clock, so the suite takes about a second (no time with
// InSynctest).
func RunStoreTests(t *testing.T, newStore func(t *testing.T) tokencache.Store, opts ...Option) {
	t.Helper()
	s := newSuite(opts)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s tokencache.Store)
	}{
		{"LoadMissing", testLoadMissing},
		{"SaveLoad", testSaveLoad},
		{"SaveReplaces", testSaveReplaces},
		{"KeysAreIndependent", testKeysIndependent},
		{"CompareAndDelete", testCompareAndDelete},
		{"CompareAndDeleteKeepsNewer", testCompareAndDeleteKeepsNewer},
		{"CompareAndDeleteConcurrent", testCompareAndDeleteConcurrent},
		{"LockExclusive", testLockExclusive},
		{"LockConcurrent", testLockConcurrent},
		{"LockExpires", testLockExpires},
		{"LockIndependentOfToken", testLockIndependentOfToken},
		{"UnlockWithoutLock", testUnlockWithoutLock},
		{"EmptyKey", testEmptyKey},
		{"CanceledContext", testCanceledContext},
	} {
		s.run(t, tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

// sampleToken returns a token with a realistic, JWT-sized value that
// differs per tag.
func sampleToken(tag string) tokencache.Token {
	now := time.Now().UTC()
	return tokencache.Token{
		Value:    "eyJhbGciOiJIUzI1NiJ9." + strings.Repeat("payload-_", 120) + "." + tag,
		Type:     "Bearer",
		Expiry:   now.Add(time.Hour).Truncate(time.Millisecond),
		IssuedAt: now.Truncate(time.Millisecond),
	}
}

func requireSameToken(t *testing.T, want, got tokencache.Token) {
	t.Helper()
	require.True(t, want.Value == got.Value, "stored value differs") // never print values
	require.Equal(t, want.Type, got.Type)
	require.WithinDuration(t, want.Expiry, got.Expiry, time.Millisecond)
	require.WithinDuration(t, want.IssuedAt, got.IssuedAt, time.Millisecond)
}

func testLoadMissing(t *testing.T, s tokencache.Store) {
	_, err := s.Load(t.Context(), "missing")
	require.ErrorIs(t, err, tokencache.ErrNotFound)
}

func testSaveLoad(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	tok := sampleToken("a")
	require.NoError(t, s.Save(ctx, "k", tok))
	got, err := s.Load(ctx, "k")
	require.NoError(t, err)
	requireSameToken(t, tok, got)

	// A token without an issue time keeps it zero.
	tok.IssuedAt = time.Time{}
	require.NoError(t, s.Save(ctx, "k", tok))
	got, err = s.Load(ctx, "k")
	require.NoError(t, err)
	require.True(t, got.IssuedAt.IsZero(), "IssuedAt = %v, want zero", got.IssuedAt)
}

func testSaveReplaces(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	require.NoError(t, s.Save(ctx, "k", sampleToken("old")))
	newer := sampleToken("new")
	newer.Expiry = newer.Expiry.Add(time.Hour)
	newer.Type = "MAC"
	require.NoError(t, s.Save(ctx, "k", newer))
	got, err := s.Load(ctx, "k")
	require.NoError(t, err)
	requireSameToken(t, newer, got)
}

func testKeysIndependent(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	a, b := sampleToken("a"), sampleToken("b")
	require.NoError(t, s.Save(ctx, "partner-a", a))
	require.NoError(t, s.Save(ctx, "partner-b", b))
	got, err := s.Load(ctx, "partner-a")
	require.NoError(t, err)
	requireSameToken(t, a, got)

	deleted, err := s.CompareAndDelete(ctx, "partner-b", b.Value)
	require.NoError(t, err)
	require.True(t, deleted)
	got, err = s.Load(ctx, "partner-a")
	require.NoError(t, err)
	requireSameToken(t, a, got)

	ok, err := s.TryLock(ctx, "partner-a", "owner-1", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.TryLock(ctx, "partner-b", "owner-2", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "a lock on one key must not block another key")
}

func testCompareAndDelete(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	deleted, err := s.CompareAndDelete(ctx, "k", "anything")
	require.NoError(t, err)
	require.False(t, deleted, "deleted from an empty store")

	tok := sampleToken("a")
	require.NoError(t, s.Save(ctx, "k", tok))
	deleted, err = s.CompareAndDelete(ctx, "k", tok.Value+"x")
	require.NoError(t, err)
	require.False(t, deleted, "deleted a token with a different value")
	_, err = s.Load(ctx, "k")
	require.NoError(t, err)

	deleted, err = s.CompareAndDelete(ctx, "k", tok.Value)
	require.NoError(t, err)
	require.True(t, deleted)
	_, err = s.Load(ctx, "k")
	require.ErrorIs(t, err, tokencache.ErrNotFound)

	deleted, err = s.CompareAndDelete(ctx, "k", tok.Value)
	require.NoError(t, err)
	require.False(t, deleted, "deleted twice")
}

func testCompareAndDeleteKeepsNewer(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	old, newer := sampleToken("old"), sampleToken("new")
	require.NoError(t, s.Save(ctx, "k", old))
	require.NoError(t, s.Save(ctx, "k", newer))
	deleted, err := s.CompareAndDelete(ctx, "k", old.Value)
	require.NoError(t, err)
	require.False(t, deleted, "invalidating the old token removed the newer one")
	got, err := s.Load(ctx, "k")
	require.NoError(t, err)
	requireSameToken(t, newer, got)
}

func testCompareAndDeleteConcurrent(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	tok := sampleToken("a")
	require.NoError(t, s.Save(ctx, "k", tok))
	const n = 16
	results := make(chan bool, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			deleted, err := s.CompareAndDelete(ctx, "k", tok.Value)
			assert.NoError(t, err)
			results <- deleted
		})
	}
	wg.Wait()
	close(results)
	count := 0
	for d := range results {
		if d {
			count++
		}
	}
	require.Equal(t, 1, count, "exactly one concurrent CompareAndDelete must win")
}

func testLockExclusive(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	ok, err := s.TryLock(ctx, "k", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.TryLock(ctx, "k", "b", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "second owner acquired a held lock")

	require.NoError(t, s.Unlock(ctx, "k", "b"))
	ok, err = s.TryLock(ctx, "k", "c", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "Unlock by a non-owner released the lock")

	require.NoError(t, s.Unlock(ctx, "k", "a"))
	ok, err = s.TryLock(ctx, "k", "b", time.Minute)
	require.NoError(t, err)
	require.True(t, ok, "lock not free after its owner unlocked")
}

func testLockConcurrent(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	const n = 16
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		won int
	)
	for i := range n {
		wg.Go(func() {
			ok, err := s.TryLock(ctx, "k", "owner-"+strconv.Itoa(i), time.Minute)
			assert.NoError(t, err)
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, won, "exactly one concurrent TryLock must win")
}

func testLockExpires(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	const ttl = 300 * time.Millisecond
	ok, err := s.TryLock(ctx, "k", "crashed", ttl)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.TryLock(ctx, "k", "b", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "lock free right after it was taken")

	// The store's clock decides expiry, so this waits in real time; the
	// deadline only stops a broken store from hanging the suite.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err = s.TryLock(ctx, "k", "b", time.Minute)
		require.NoError(t, err)
		if ok {
			break
		}
		require.True(t, time.Now().Before(deadline), "lock never expired")
		time.Sleep(ttl / 10)
	}

	// The crashed owner coming back must not release b's lock.
	require.NoError(t, s.Unlock(ctx, "k", "crashed"))
	ok, err = s.TryLock(ctx, "k", "c", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "an expired owner's Unlock released the new owner's lock")
}

func testLockIndependentOfToken(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	ok, err := s.TryLock(ctx, "k", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	tok := sampleToken("a")
	require.NoError(t, s.Save(ctx, "k", tok))
	got, err := s.Load(ctx, "k")
	require.NoError(t, err)
	requireSameToken(t, tok, got)
	deleted, err := s.CompareAndDelete(ctx, "k", tok.Value)
	require.NoError(t, err)
	require.True(t, deleted)

	ok, err = s.TryLock(ctx, "k", "b", time.Minute)
	require.NoError(t, err)
	require.False(t, ok, "Save or CompareAndDelete released the lock")

	require.NoError(t, s.Save(ctx, "k", tok))
	require.NoError(t, s.Unlock(ctx, "k", "a"))
	got, err = s.Load(ctx, "k")
	require.NoError(t, err, "Unlock removed the token")
	requireSameToken(t, tok, got)
}

func testUnlockWithoutLock(t *testing.T, s tokencache.Store) {
	require.NoError(t, s.Unlock(t.Context(), "k", "nobody"))
}

func testEmptyKey(t *testing.T, s tokencache.Store) {
	ctx := t.Context()
	_, err := s.Load(ctx, "")
	require.Error(t, err, "Load")
	require.NotErrorIs(t, err, tokencache.ErrNotFound, "Load with an empty key must not look like an empty store")
	require.Error(t, s.Save(ctx, "", sampleToken("a")), "Save")
	_, err = s.CompareAndDelete(ctx, "", "v")
	require.Error(t, err, "CompareAndDelete")
	_, err = s.TryLock(ctx, "", "a", time.Minute)
	require.Error(t, err, "TryLock")
	require.Error(t, s.Unlock(ctx, "", "a"), "Unlock")
}

func testCanceledContext(t *testing.T, s tokencache.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Load(ctx, "k")
	require.Error(t, err, "Load")
	require.NotErrorIs(t, err, tokencache.ErrNotFound, "Load with a canceled context must not look like an empty store")
	require.Error(t, s.Save(ctx, "k", sampleToken("a")), "Save")
	_, err = s.CompareAndDelete(ctx, "k", "v")
	require.Error(t, err, "CompareAndDelete")
	_, err = s.TryLock(ctx, "k", "a", time.Minute)
	require.Error(t, err, "TryLock")
	require.Error(t, s.Unlock(ctx, "k", "a"), "Unlock")

	// Nothing was written.
	_, err = s.Load(t.Context(), "k")
	require.ErrorIs(t, err, tokencache.ErrNotFound)
}
