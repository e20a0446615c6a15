package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outbound-go/outbound/internal/nilcheck"
	"github.com/outbound-go/outbound/tokencache"
)

// DefaultPrefix starts every key when Config.Prefix is empty.
const DefaultPrefix = "outbound:tokencache:"

// Config configures a Store. The zero value is usable.
type Config struct {
	// Prefix starts every key the store writes, so several applications
	// can share a Redis database. It must not contain '{' or '}' (the
	// store puts the cache key in a hash tag, so a token and its lock
	// live in the same cluster slot). Empty means DefaultPrefix.
	Prefix string
}

// Store is a tokencache.Store in Redis, shared by every process that uses
// the same Redis and prefix. Each cache key uses two Redis keys: a hash with
// the token, expiring with the token, and a lock taken with SET NX PX, which
// expires by the Redis server's clock. Compare-and-delete and unlock are Lua
// scripts, so each is atomic.
//
// A Store is safe for concurrent use. Errors never contain token values.
type Store struct {
	client goredis.UniversalClient
	prefix string
}

var (
	// compareAndDelete deletes KEYS[1] if its field v equals ARGV[1].
	compareAndDelete = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)
	// unlock deletes KEYS[1] if it holds ARGV[1].
	unlock = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0`)
)

// New returns a Store using client (a *redis.Client, *redis.ClusterClient
// or other universal client). It returns an error if client is nil or
// cfg.Prefix contains a brace. It does not contact Redis.
func New(client goredis.UniversalClient, cfg Config) (*Store, error) {
	if nilcheck.IsNil(client) {
		return nil, errors.New("tokencache/redis: New: client is nil")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("tokencache/redis: Config.Prefix %q must not contain '{' or '}'", cfg.Prefix)
	}
	return &Store{client: client, prefix: cfg.Prefix}, nil
}

func (s *Store) tokenKey(key string) string { return s.prefix + "{" + key + "}:token" }
func (s *Store) lockKey(key string) string  { return s.prefix + "{" + key + "}:lock" }

// Hash fields of a stored token.
const (
	fieldValue    = "v"
	fieldType     = "t"
	fieldIssuedAt = "iat"
	fieldExpiry   = "exp"
)

// Load returns the token stored under key, or an error wrapping
// tokencache.ErrNotFound (also once the token has expired and Redis has
// dropped it).
func (s *Store) Load(ctx context.Context, key string) (tokencache.Token, error) {
	if key == "" {
		return tokencache.Token{}, errEmptyKey
	}
	fields, err := s.client.HGetAll(ctx, s.tokenKey(key)).Result()
	if err != nil {
		return tokencache.Token{}, fmt.Errorf("tokencache/redis: load: %w", err)
	}
	value, ok := fields[fieldValue]
	if !ok {
		return tokencache.Token{}, tokencache.ErrNotFound
	}
	tok := tokencache.Token{Value: value, Type: fields[fieldType]}
	if tok.IssuedAt, err = parseTime(fields[fieldIssuedAt]); err != nil {
		return tokencache.Token{}, errors.New("tokencache/redis: load: stored issue time is malformed")
	}
	if tok.Expiry, err = parseTime(fields[fieldExpiry]); err != nil {
		return tokencache.Token{}, errors.New("tokencache/redis: load: stored expiry is malformed")
	}
	return tok, nil
}

// Save stores tok under key, replacing any token there, in one MULTI/EXEC
// transaction. The stored token expires from Redis at tok.Expiry. The lock
// is not touched.
func (s *Store) Save(ctx context.Context, key string, tok tokencache.Token) error {
	if key == "" {
		return errEmptyKey
	}
	k := s.tokenKey(key)
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, k)
		p.HSet(ctx, k,
			fieldValue, tok.Value,
			fieldType, tok.Type,
			fieldIssuedAt, formatTime(tok.IssuedAt),
			fieldExpiry, formatTime(tok.Expiry))
		if !tok.Expiry.IsZero() {
			p.PExpireAt(ctx, k, tok.Expiry)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tokencache/redis: save: %w", err)
	}
	return nil
}

// CompareAndDelete deletes the token under key if its value is value,
// atomically, and reports whether it did.
func (s *Store) CompareAndDelete(ctx context.Context, key, value string) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	n, err := compareAndDelete.Run(ctx, s.client, []string{s.tokenKey(key)}, value).Int()
	if err != nil {
		return false, fmt.Errorf("tokencache/redis: compare and delete: %w", err)
	}
	return n == 1, nil
}

// TryLock takes the lock for key for ttl with SET NX PX, and reports whether
// it did.
func (s *Store) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, errEmptyKey
	}
	if ttl < time.Millisecond {
		return false, errors.New("tokencache/redis: lock ttl must be at least 1ms")
	}
	ok, err := s.client.SetNX(ctx, s.lockKey(key), owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("tokencache/redis: lock: %w", err)
	}
	return ok, nil
}

// Unlock releases the lock for key if owner holds it.
func (s *Store) Unlock(ctx context.Context, key, owner string) error {
	if key == "" {
		return errEmptyKey
	}
	if err := unlock.Run(ctx, s.client, []string{s.lockKey(key)}, owner).Err(); err != nil {
		return fmt.Errorf("tokencache/redis: unlock: %w", err)
	}
	return nil
}

var errEmptyKey = errors.New("tokencache/redis: key is empty")

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
