package tokencache

import (
	"errors"
	"fmt"
	"time"

	"github.com/outbound-go/outbound/internal/nilcheck"
	"github.com/outbound-go/outbound/internal/saturate"
)

// Defaults for the zero fields of Config.
const (
	// DefaultKey is the store key used when Config.Key is empty.
	DefaultKey = "default"
	// DefaultMaxSkew bounds the default refresh skew: a token is refreshed
	// min(DefaultMaxSkew, 10% of its lifetime) before it expires.
	DefaultMaxSkew = time.Minute
	// DefaultTTL is the lifetime assumed for an opaque token that comes
	// without an expiry.
	DefaultTTL = 10 * time.Minute
	// DefaultLockTTL is how long the mint lock is held at most.
	DefaultLockTTL = 15 * time.Second
	// DefaultPollInterval is how often a process waiting for another
	// process's mint re-reads the store.
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultMintTimeout bounds one call to the Source.
	DefaultMintTimeout = 10 * time.Second
	// DefaultStoreTimeout bounds one Store operation.
	DefaultStoreTimeout = 5 * time.Second
	// DefaultFailureBackoff is the first pause after a failed refresh.
	DefaultFailureBackoff = time.Second
	// DefaultMaxFailureBackoff caps the pause after repeated failures.
	DefaultMaxFailureBackoff = time.Minute
)

// Config configures a Cache. The zero value is usable: an in-memory store
// and the defaults documented on each field.
type Config struct {
	// Store is where the token is shared with other processes. Nil means a
	// new MemoryStore private to this Cache, which still collapses all
	// goroutines of this process onto one token.
	Store Store

	// Key names the token in Store. Caches with the same Store and Key
	// share one token; use one key per issuer, client and audience. Empty
	// means DefaultKey.
	Key string

	// Skew is how long before its expiry a token stops being handed out
	// and is refreshed, so that it does not expire in flight. Zero means
	// min(1 minute, 10% of the token's lifetime). An explicit Skew is
	// capped at a quarter of the lifetime, so a short-lived token is still
	// used. Negative is an error.
	Skew time.Duration

	// TTL is the lifetime assumed for a token whose Source gave no Expiry
	// and whose value is not a JWT with an exp claim (an opaque token).
	// Zero means DefaultTTL (10 minutes). Negative is an error.
	TTL time.Duration

	// LockTTL is how long the store's mint lock lasts unless released. A
	// lock holder that crashed delays the others by at most LockTTL: then
	// one of them takes the expired lock and mints, and the rest pick up
	// its token from the store. A process that finds the lock taken keeps
	// waiting for it; it mints without the lock only if the store fails or
	// the lock stays taken for 2*LockTTL + MintTimeout (enough for a
	// crashed holder's lock to expire and a new holder to mint). Keep it
	// above MintTimeout so a slow but live holder keeps the lock. Zero
	// means DefaultLockTTL (15 seconds); it must be at least a millisecond.
	LockTTL time.Duration

	// PollInterval is how often a process that lost the race for the lock
	// re-reads the store for the winner's token. Zero means
	// DefaultPollInterval (100ms). It must not exceed LockTTL.
	PollInterval time.Duration

	// MintTimeout bounds one call to Source.Token. Zero means
	// DefaultMintTimeout (10 seconds). Negative is an error.
	MintTimeout time.Duration

	// StoreTimeout bounds each Store operation. Zero means
	// DefaultStoreTimeout (5 seconds). Negative is an error.
	StoreTimeout time.Duration

	// FailureBackoff is the pause after a failed refresh (or after a token
	// was rejected twice in a row) before the next refresh is attempted;
	// it doubles with each further failure up to MaxFailureBackoff. During
	// the pause Token returns the still-valid old token if there is one,
	// or fails at once with ErrBackoff. Zero means DefaultFailureBackoff (1
	// second). Negative is an error.
	FailureBackoff time.Duration

	// MaxFailureBackoff caps FailureBackoff's doubling. Zero means
	// DefaultMaxFailureBackoff (1 minute). It must not be below
	// FailureBackoff.
	MaxFailureBackoff time.Duration

	// ProactiveRefresh starts a background goroutine that refreshes the
	// token one skew before callers would need a new one (at
	// Expiry - 2*skew), and fetches the first token at once, so callers
	// normally never wait for a mint. Close stops it. False means tokens
	// are refreshed on demand by the first caller that needs one.
	ProactiveRefresh bool

	// OnEvent, if set, is called for mints, shared hits, store errors,
	// lock timeouts and invalidations, for logging and metrics. It is
	// called synchronously from the refreshing goroutine and must not
	// block. Events never carry token values.
	OnEvent func(Event)
}

// withDefaults returns cfg with zero fields replaced by defaults, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"Skew", cfg.Skew}, {"TTL", cfg.TTL}, {"LockTTL", cfg.LockTTL},
		{"PollInterval", cfg.PollInterval}, {"MintTimeout", cfg.MintTimeout},
		{"StoreTimeout", cfg.StoreTimeout}, {"FailureBackoff", cfg.FailureBackoff},
		{"MaxFailureBackoff", cfg.MaxFailureBackoff},
	} {
		if f.v < 0 {
			return cfg, fmt.Errorf("tokencache: Config.%s must not be negative (got %v)", f.name, f.v)
		}
	}
	if nilcheck.Typed(cfg.Store) {
		return cfg, fmt.Errorf("tokencache: Config.Store is a nil %T: set a usable store or leave it unset for a MemoryStore", cfg.Store)
	}
	if cfg.Store == nil {
		cfg.Store = &MemoryStore{}
	}
	if cfg.Key == "" {
		cfg.Key = DefaultKey
	}
	setDefault(&cfg.TTL, DefaultTTL)
	setDefault(&cfg.LockTTL, DefaultLockTTL)
	setDefault(&cfg.PollInterval, DefaultPollInterval)
	setDefault(&cfg.MintTimeout, DefaultMintTimeout)
	setDefault(&cfg.StoreTimeout, DefaultStoreTimeout)
	setDefault(&cfg.FailureBackoff, DefaultFailureBackoff)
	setDefault(&cfg.MaxFailureBackoff, DefaultMaxFailureBackoff)
	switch {
	case cfg.LockTTL < time.Millisecond:
		return cfg, errors.New("tokencache: Config.LockTTL must be at least 1ms")
	case cfg.PollInterval > cfg.LockTTL:
		return cfg, fmt.Errorf("tokencache: Config.PollInterval (%v) must not exceed Config.LockTTL (%v)", cfg.PollInterval, cfg.LockTTL)
	case cfg.MaxFailureBackoff < cfg.FailureBackoff:
		return cfg, fmt.Errorf("tokencache: Config.MaxFailureBackoff (%v) must not be below Config.FailureBackoff (%v)", cfg.MaxFailureBackoff, cfg.FailureBackoff)
	}
	return cfg, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// lockWait bounds how long a process waits for a lock someone else holds
// before it mints without the lock: a crashed holder's lock runs out within
// LockTTL, and the waiter that takes it over holds it for at most another
// LockTTL, minting within MintTimeout.
func (cfg *Config) lockWait() time.Duration {
	return saturate.Add(saturate.Add(cfg.LockTTL, cfg.LockTTL), cfg.MintTimeout)
}

// skewFor returns how long before tok's expiry it is refreshed: Skew capped
// at a quarter of the lifetime, or min(DefaultMaxSkew, lifetime/10) by
// default. A token with an unknown issue time gets Skew or DefaultMaxSkew
// uncapped.
func (cfg *Config) skewFor(tok Token) time.Duration {
	if tok.IssuedAt.IsZero() || !tok.IssuedAt.Before(tok.Expiry) {
		if cfg.Skew > 0 {
			return cfg.Skew
		}
		return DefaultMaxSkew
	}
	life := tok.Expiry.Sub(tok.IssuedAt)
	if cfg.Skew > 0 {
		return min(cfg.Skew, life/4)
	}
	return min(DefaultMaxSkew, life/10)
}
