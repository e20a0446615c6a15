package tokencache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// MemoryStore is a Store held in this process's memory. Caches that share a
// MemoryStore share one token; separate processes do not. It is the default
// when Config.Store is nil, and handy in tests.
//
// The zero value is an empty store ready to use. A MemoryStore is safe for
// concurrent use and must not be copied after first use.
type MemoryStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	locks  map[string]memLock
}

type memLock struct {
	owner   string
	expires time.Time
}

var errEmptyKey = errors.New("tokencache: store key is empty")

func checkArgs(ctx context.Context, key string) error {
	if key == "" {
		return errEmptyKey
	}
	return ctx.Err()
}

// Load returns the token stored under key, or ErrNotFound.
func (s *MemoryStore) Load(ctx context.Context, key string) (Token, error) {
	if err := checkArgs(ctx, key); err != nil {
		return Token{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[key]
	if !ok {
		return Token{}, ErrNotFound
	}
	return tok, nil
}

// Save stores tok under key, replacing any token there.
func (s *MemoryStore) Save(ctx context.Context, key string, tok Token) error {
	if err := checkArgs(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		s.tokens = make(map[string]Token)
	}
	s.tokens[key] = tok
	return nil
}

// CompareAndDelete deletes the token under key if its value is value and
// reports whether it did.
func (s *MemoryStore) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	if err := checkArgs(ctx, key); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[key]
	if !ok || tok.Value != value {
		return false, nil
	}
	delete(s.tokens, key)
	return true, nil
}

// TryLock acquires the lock for key for ttl if no unexpired lock is held,
// and reports whether it did. Expiry follows this process's clock.
func (s *MemoryStore) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkArgs(ctx, key); err != nil {
		return false, err
	}
	if ttl < time.Millisecond {
		return false, errors.New("tokencache: lock ttl must be at least 1ms")
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[key]; ok && now.Before(l.expires) {
		return false, nil
	}
	if s.locks == nil {
		s.locks = make(map[string]memLock)
	}
	s.locks[key] = memLock{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// Unlock releases the lock for key if owner holds it.
func (s *MemoryStore) Unlock(ctx context.Context, key, owner string) error {
	if err := checkArgs(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[key]; ok && l.owner == owner {
		delete(s.locks, key)
	}
	return nil
}
