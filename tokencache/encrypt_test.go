package tokencache_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func TestEncryptedStoreConformance(t *testing.T) {
	tokentest.RunStoreTests(t, func(t *testing.T) tokencache.Store {
		s, err := tokencache.NewEncryptedStore(&tokencache.MemoryStore{}, randomKey(t))
		require.NoError(t, err)
		return s
	}, tokentest.InSynctest())
}

func TestEncryptedStoreKeepsValuesSecretAtRest(t *testing.T) {
	ctx := t.Context()
	inner := &tokencache.MemoryStore{}
	key := randomKey(t)
	s, err := tokencache.NewEncryptedStore(inner, key)
	require.NoError(t, err)
	tok := tokencache.Token{Value: secretValue, Type: "Bearer", Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, s.Save(ctx, "k", tok))

	raw, err := inner.Load(ctx, "k")
	require.NoError(t, err)
	require.NotContains(t, raw.Value, secretValue)
	require.True(t, strings.HasPrefix(raw.Value, "enc1:"))
	require.Equal(t, tok.Expiry, raw.Expiry, "metadata stays readable")

	// Saving the same value twice gives different ciphertexts (fresh nonce).
	require.NoError(t, s.Save(ctx, "k", tok))
	raw2, err := inner.Load(ctx, "k")
	require.NoError(t, err)
	require.NotEqual(t, raw.Value, raw2.Value)

	// A ciphertext moved to another key does not decrypt.
	require.NoError(t, inner.Save(ctx, "other", raw2))
	_, err = s.Load(ctx, "other")
	require.ErrorIs(t, err, tokencache.ErrDecrypt)

	// Tampering is detected.
	b := []byte(raw2.Value)
	b[len(b)-3] ^= 'A' ^ 'B'
	raw2.Value = string(b)
	require.NoError(t, inner.Save(ctx, "k", raw2))
	_, err = s.Load(ctx, "k")
	require.ErrorIs(t, err, tokencache.ErrDecrypt)

	// Plaintext written before encryption was enabled is not accepted.
	require.NoError(t, inner.Save(ctx, "k", tok))
	_, err = s.Load(ctx, "k")
	require.ErrorIs(t, err, tokencache.ErrDecrypt)
	require.NotContains(t, err.Error(), secretValue)
	deleted, err := s.CompareAndDelete(ctx, "k", secretValue)
	require.NoError(t, err)
	require.False(t, deleted, "an undecryptable value never matches")
}

func TestEncryptedStoreKeyRotation(t *testing.T) {
	ctx := t.Context()
	inner := &tokencache.MemoryStore{}
	oldKey, newKey := randomKey(t), randomKey(t)
	before, err := tokencache.NewEncryptedStore(inner, oldKey)
	require.NoError(t, err)
	tok := tokencache.Token{Value: secretValue, Expiry: time.Now().Add(time.Hour)}
	require.NoError(t, before.Save(ctx, "k", tok))

	after, err := tokencache.NewEncryptedStore(inner, newKey, oldKey)
	require.NoError(t, err)
	got, err := after.Load(ctx, "k")
	require.NoError(t, err)
	require.True(t, got.Value == secretValue, "old key not tried")

	require.NoError(t, after.Save(ctx, "k", tok))
	_, err = before.Load(ctx, "k")
	require.ErrorIs(t, err, tokencache.ErrDecrypt, "new tokens must be written with the new key")

	deleted, err := after.CompareAndDelete(ctx, "k", secretValue)
	require.NoError(t, err)
	require.True(t, deleted)
}

func TestNewEncryptedStoreValidates(t *testing.T) {
	_, err := tokencache.NewEncryptedStore(nil, randomKey(t))
	require.ErrorContains(t, err, "inner store is nil")
	_, err = tokencache.NewEncryptedStore(&tokencache.MemoryStore{}, []byte("short"))
	require.ErrorContains(t, err, "key 0 must be 16, 24 or 32 bytes, got 5")
	_, err = tokencache.NewEncryptedStore(&tokencache.MemoryStore{}, randomKey(t), make([]byte, 31))
	require.ErrorContains(t, err, "key 1 must be 16, 24 or 32 bytes")
	for _, n := range []int{16, 24, 32} {
		_, err = tokencache.NewEncryptedStore(&tokencache.MemoryStore{}, make([]byte, n))
		require.NoError(t, err)
	}
}
