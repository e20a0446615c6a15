package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/internal/testenv"
	"github.com/outbound-go/outbound/tokencache"
	tokenredis "github.com/outbound-go/outbound/tokencache/redis"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func TestMain(m *testing.M) {
	testenv.AnnounceSkips(testenv.Redis)
	goleak.VerifyTestMain(m)
}

func newClient(t *testing.T) *goredis.Client {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: testenv.RedisAddr(t)})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// newPrefix returns a key prefix for this test only and deletes its keys
// afterwards.
func newPrefix(t *testing.T, client *goredis.Client) string {
	t.Helper()
	prefix := testenv.UniqueName(t, "tok") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := client.Keys(ctx, prefix+"*").Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, client.Del(ctx, keys...).Err())
		}
	})
	return prefix
}

// newStores returns n stores under one fresh prefix, each with its own
// client, like n separate processes.
func newStores(t *testing.T, n int) []tokencache.Store {
	t.Helper()
	prefix := newPrefix(t, newClient(t))
	stores := make([]tokencache.Store, n)
	for i := range stores {
		s, err := tokenredis.New(newClient(t), tokenredis.Config{Prefix: prefix})
		require.NoError(t, err)
		stores[i] = s
	}
	return stores
}

func TestConformance(t *testing.T) {
	tokentest.RunStoreTests(t, func(t *testing.T) tokencache.Store { return newStores(t, 1)[0] })
}

func TestEncryptedConformance(t *testing.T) {
	tokentest.RunStoreTests(t, func(t *testing.T) tokencache.Store {
		s, err := tokencache.NewEncryptedStore(newStores(t, 1)[0], make([]byte, 32))
		require.NoError(t, err)
		return s
	})
}

func TestSharingAcrossProcesses(t *testing.T) {
	tokentest.RunSharingTests(t, newStores)
}

func TestTokenExpiresFromRedis(t *testing.T) {
	client := newClient(t)
	prefix := newPrefix(t, client)
	s, err := tokenredis.New(client, tokenredis.Config{Prefix: prefix})
	require.NoError(t, err)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	require.NoError(t, s.Save(ctx, "k", tokencache.Token{Value: "v", Expiry: exp}))
	ttl, err := client.PTTL(ctx, prefix+"{k}:token").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Hour.Seconds(), ttl.Seconds(), 60, "the stored token should expire with the token")

	require.NoError(t, s.Save(ctx, "k", tokencache.Token{Value: "v"}))
	ttl, err = client.PTTL(ctx, prefix+"{k}:token").Result()
	require.NoError(t, err)
	require.Equal(t, time.Duration(-1), ttl, "a token without expiry must not keep the old TTL")

	require.NoError(t, s.Save(ctx, "k", tokencache.Token{Value: "v", Expiry: time.Now().Add(-time.Second)}))
	_, err = s.Load(ctx, "k")
	require.ErrorIs(t, err, tokencache.ErrNotFound, "an expired token is dropped")
}

func TestMalformedStoredToken(t *testing.T) {
	client := newClient(t)
	prefix := newPrefix(t, client)
	s, err := tokenredis.New(client, tokenredis.Config{Prefix: prefix})
	require.NoError(t, err)
	const secret = "secret-token-value"
	require.NoError(t, client.HSet(t.Context(), prefix+"{k}:token", "v", secret, "exp", "tomorrow").Err())
	_, err = s.Load(t.Context(), "k")
	require.ErrorContains(t, err, "tokencache/redis: load: stored expiry is malformed")
	require.NotContains(t, err.Error(), secret)
}

func TestNewValidates(t *testing.T) {
	_, err := tokenredis.New(nil, tokenredis.Config{})
	require.ErrorContains(t, err, "client is nil")
	// A nil *redis.Client passed the nil check and panicked on first use.
	_, err = tokenredis.New((*goredis.Client)(nil), tokenredis.Config{})
	require.ErrorContains(t, err, "client is nil")
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer client.Close()
	_, err = tokenredis.New(client, tokenredis.Config{Prefix: "app:{x}:"})
	require.ErrorContains(t, err, "Config.Prefix")
	_, err = tokenredis.New(client, tokenredis.Config{})
	require.NoError(t, err)
}
