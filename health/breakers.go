package health

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outbound-go/outbound/internal/nilcheck"
)

// DefaultMaxKeys is the default bound of a [Breakers] set.
const DefaultMaxKeys = 1024

// factoryRetryHint is the Retry-After hint while a breaker cannot be built:
// the next For call tries again.
const factoryRetryHint = time.Second

// BreakersConfig configures a [Breakers] set. Every field has a default for
// its zero value.
type BreakersConfig struct {
	// Breaker is the configuration of every breaker in the set; each gets
	// its key as Name, so Breaker.OnStateChange learns which destination
	// changed. Ignored when New is set.
	Breaker BreakerConfig
	// MaxKeys bounds how many breakers the set holds. When a new key would
	// exceed it, the least recently used closed breaker is dropped (or the
	// least recently used one, if none is closed); a dropped key starts
	// afresh, closed, when it is next used. Zero means DefaultMaxKeys.
	MaxKeys int
	// New, if set, builds the breaker for a key instead of
	// NewCircuitBreaker: the place for a breaker whose state is shared
	// between processes. If it returns an error (or a nil Breaker), For
	// returns a breaker that refuses every call with that error, marked
	// ClassUnavailable, and For tries New again on its next call.
	New func(key string) (Breaker, error)
}

// Breakers holds one [Breaker] per destination key (for example a URL's
// host), created on first use, in a bounded set. It is safe for concurrent
// use; For on an existing key takes no lock and, while the key stays the
// most recently used, writes no shared memory, so goroutines on different
// CPUs sending to one host do not contend on the set.
type Breakers struct {
	cfg     BreakerConfig
	maxKeys int
	newFunc func(key string) (Breaker, error)

	clock atomic.Uint64 // logical time of the latest change of recency, for LRU

	mu      sync.Mutex // serialises adding and evicting entries
	n       int        // entries held; under mu
	entries sync.Map   // key → *breakerEntry
}

type breakerEntry struct {
	breaker Breaker
	used    atomic.Uint64 // the clock when the key last became the most recently used
}

// touch marks e the most recently used entry. A key used again while it
// is still the most recent one writes nothing: the order of the entries
// would not change.
func (e *breakerEntry) touch(clock *atomic.Uint64) {
	if e.used.Load() != clock.Load() {
		e.used.Store(clock.Add(1))
	}
}

// NewBreakers returns an empty set for cfg. It returns an error naming the
// field when cfg is invalid.
func NewBreakers(cfg BreakersConfig) (*Breakers, error) {
	if cfg.MaxKeys < 0 {
		return nil, fmt.Errorf("health: BreakersConfig.MaxKeys must not be negative, got %d", cfg.MaxKeys)
	}
	bc, err := cfg.Breaker.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("health: BreakersConfig.Breaker: %w", err)
	}
	return &Breakers{
		cfg:     bc,
		maxKeys: orDefault(cfg.MaxKeys, DefaultMaxKeys),
		newFunc: cfg.New,
	}, nil
}

// For returns the breaker for key, creating it if the set has none. It
// never returns nil.
func (s *Breakers) For(key string) Breaker {
	e, ok := s.load(key)
	if !ok {
		var err error
		if e, err = s.add(key); err != nil {
			return refusing{err: err}
		}
	}
	e.touch(&s.clock)
	return e.breaker
}

func (s *Breakers) load(key string) (*breakerEntry, bool) {
	v, ok := s.entries.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*breakerEntry), true
}

// Len returns how many breakers the set holds.
func (s *Breakers) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// States returns the state of every breaker in the set, by key.
func (s *Breakers) States() map[string]BreakerState {
	// Under mu, so that the snapshot is one the set was in: an add and an
	// eviction during the walk would otherwise both show.
	s.mu.Lock()
	breakers := make(map[string]Breaker, s.n)
	s.entries.Range(func(k, v any) bool {
		breakers[k.(string)] = v.(*breakerEntry).breaker
		return true
	})
	s.mu.Unlock()
	// State may run hooks that use the set: call it without the lock.
	states := make(map[string]BreakerState, len(breakers))
	for k, b := range breakers {
		states[k] = b.State()
	}
	return states
}

func (s *Breakers) add(key string) (*breakerEntry, error) {
	// Build outside the lock: a user's New may be slow.
	b, err := s.build(key)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.load(key); ok {
		return e, nil // another goroutine won the race
	}
	if s.n >= s.maxKeys {
		s.evict()
	}
	e := &breakerEntry{breaker: b}
	e.used.Store(s.clock.Add(1))
	s.entries.Store(key, e)
	s.n++
	return e, nil
}

func (s *Breakers) build(key string) (Breaker, error) {
	if s.newFunc == nil {
		cfg := s.cfg
		cfg.Name = key
		return newCircuitBreaker(cfg), nil
	}
	b, err := s.newFunc(key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("health: breaker %q cannot be built, refusing calls: %w (%w)", key, err, ErrBreakerOpen)
	case nilcheck.IsNil(b):
		return nil, fmt.Errorf("health: breaker %q cannot be built, refusing calls: BreakersConfig.New returned nil (%w)", key, ErrBreakerOpen)
	}
	return b, nil
}

// evict drops the least recently used entry, preferring closed breakers
// (an open one holds knowledge worth keeping). Only the package's own
// breakers are known closed without calling into them; others count as
// closed. The caller holds s.mu.
func (s *Breakers) evict() {
	var victim, closedVictim string
	var oldest, oldestClosed uint64 = ^uint64(0), ^uint64(0)
	s.entries.Range(func(k, v any) bool {
		e := v.(*breakerEntry)
		used := e.used.Load()
		if used < oldest {
			victim, oldest = k.(string), used
		}
		cb, own := e.breaker.(*CircuitBreaker)
		if (!own || BreakerState(cb.state.Load()) == BreakerClosed) && used < oldestClosed {
			closedVictim, oldestClosed = k.(string), used
		}
		return true
	})
	if oldestClosed != ^uint64(0) {
		victim = closedVictim
	}
	s.entries.Delete(victim)
	s.n--
}

// refusing is the Breaker For returns when none could be built.
type refusing struct{ err error }

func (r refusing) Allow(context.Context) (func(error), error) { return nil, r.Peek() }
func (r refusing) Peek() error                                { return unavailable(r.err, factoryRetryHint) }
func (r refusing) State() BreakerState                        { return BreakerOpen }
