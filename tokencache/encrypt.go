package tokencache

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outbound-go/outbound/internal/nilcheck"
)

// ErrDecrypt is returned (wrapped) by EncryptedStore.Load when the stored
// token was not written with any of the store's keys, or was tampered with.
// The Cache treats it like any store error: it mints a new token and
// overwrites the old one.
var ErrDecrypt = errors.New("tokencache: stored token cannot be decrypted")

// encPrefix marks an encrypted value and its format version.
const encPrefix = "enc1:"

// EncryptedStore wraps a Store so that token values are encrypted at rest
// with AES-GCM under a caller-supplied key. Only Value is encrypted; Type,
// Expiry and IssuedAt stay readable so operators can see what is stored.
// Each ciphertext is bound to its store key, so a value copied to another
// key does not decrypt.
//
// Locks pass through unchanged. CompareAndDelete decrypts the stored value,
// compares it with the rejected one and deletes exactly the ciphertext it
// read, so it stays atomic: a token replaced in between is not deleted.
type EncryptedStore struct {
	inner Store
	aeads []cipher.AEAD // aeads[0] encrypts; all are tried to decrypt
}

// NewEncryptedStore returns inner with values encrypted under key, which
// must be 16, 24 or 32 bytes (AES-128, -192 or -256; use 32 random bytes).
// oldKeys are tried, after key, to decrypt tokens stored before a key
// rotation; new tokens are always written with key. It returns an error if
// inner is nil or a key has the wrong length.
func NewEncryptedStore(inner Store, key []byte, oldKeys ...[]byte) (*EncryptedStore, error) {
	if nilcheck.IsNil(inner) {
		return nil, errors.New("tokencache: NewEncryptedStore: inner store is nil")
	}
	s := &EncryptedStore{inner: inner}
	for i, k := range append([][]byte{key}, oldKeys...) {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("tokencache: NewEncryptedStore: key %d must be 16, 24 or 32 bytes, got %d", i, len(k))
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("tokencache: NewEncryptedStore: %w", err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// Load reads the token under key from the inner store and decrypts its
// value. It returns the inner store's error (ErrNotFound when empty), or an
// error wrapping ErrDecrypt.
func (s *EncryptedStore) Load(ctx context.Context, key string) (Token, error) {
	tok, err := s.inner.Load(ctx, key)
	if err != nil {
		return Token{}, err
	}
	tok.Value, err = s.open(key, tok.Value)
	if err != nil {
		return Token{}, err
	}
	return tok, nil
}

// Save encrypts tok's value and stores it in the inner store. It returns
// the inner store's error.
func (s *EncryptedStore) Save(ctx context.Context, key string, tok Token) error {
	sealed, err := s.seal(key, tok.Value)
	if err != nil {
		return err
	}
	tok.Value = sealed
	return s.inner.Save(ctx, key, tok)
}

// CompareAndDelete deletes the token under key if its decrypted value is
// value, and reports whether it did. A stored value that does not decrypt
// is not value and is left alone.
func (s *EncryptedStore) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	stored, err := s.inner.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	plain, err := s.open(key, stored.Value)
	if err != nil || subtle.ConstantTimeCompare([]byte(plain), []byte(value)) != 1 {
		return false, nil
	}
	return s.inner.CompareAndDelete(ctx, key, stored.Value)
}

// TryLock is the inner store's TryLock.
func (s *EncryptedStore) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	return s.inner.TryLock(ctx, key, owner, ttl)
}

// Unlock is the inner store's Unlock.
func (s *EncryptedStore) Unlock(ctx context.Context, key, owner string) error {
	return s.inner.Unlock(ctx, key, owner)
}

func additionalData(key string) []byte { return []byte("outbound/tokencache\x00" + key) }

func (s *EncryptedStore) seal(key, value string) (string, error) {
	aead := s.aeads[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("tokencache: encrypt: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, []byte(value), additionalData(key))
	return encPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (s *EncryptedStore) open(key, stored string) (string, error) {
	enc, ok := strings.CutPrefix(stored, encPrefix)
	if !ok {
		return "", fmt.Errorf("%w: value is not in the encrypted format", ErrDecrypt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return "", fmt.Errorf("%w: value is not valid base64", ErrDecrypt)
	}
	for _, aead := range s.aeads {
		if len(raw) < aead.NonceSize() {
			continue
		}
		plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], additionalData(key))
		if err == nil {
			return string(plain), nil
		}
	}
	return "", fmt.Errorf("%w: wrong key or tampered value", ErrDecrypt)
}
