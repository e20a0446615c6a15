package tokencache

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned (possibly wrapped) by Store.Load when no token is
// stored under the key.
var ErrNotFound = errors.New("tokencache: no token stored")

// Store is where caches in several processes share one token, so that they
// mint one token between them instead of one each (the lesson of a partner's
// exhausted token quota). Every implementation must pass the conformance
// suite in package tokentest (tokentest.RunStoreTests).
//
// Each method is safe for concurrent use by many processes. Keys are
// non-empty strings chosen by the Cache (Config.Key); one Store can hold
// tokens for several issuers under different keys. Methods return an error
// for an empty key or an ended context. Errors must never contain token
// values.
type Store interface {
	// Load returns the token stored under key, or an error wrapping
	// ErrNotFound if there is none. It may return an expired token; the
	// cache decides what is fresh. A store may also forget a token once it
	// has expired.
	Load(ctx context.Context, key string) (Token, error)

	// Save stores tok under key, replacing any token there. It does not
	// touch the lock. Stores keep Value, Type, Expiry and IssuedAt, the
	// times to at least millisecond precision.
	Save(ctx context.Context, key string, tok Token) error

	// CompareAndDelete deletes the token under key only if its Value equals
	// value, atomically, and reports whether it deleted one. It does not
	// touch the lock. This is how a rejected token is invalidated without
	// throwing away a newer token another process has stored meanwhile.
	CompareAndDelete(ctx context.Context, key, value string) (bool, error)

	// TryLock acquires the mint lock for key on behalf of owner for ttl,
	// without waiting, and reports whether it did. It reports false while
	// another acquisition is unexpired. A lock that is never unlocked
	// expires after ttl, so a crashed holder cannot block others for
	// longer. ttl is at least a millisecond.
	TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)

	// Unlock releases the lock for key if owner holds it, and does nothing
	// otherwise (for example when the lock has expired and someone else
	// holds it now).
	Unlock(ctx context.Context, key, owner string) error
}
