package health_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

func TestBreakersOnePerKey(t *testing.T) {
	set, err := health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{ConsecutiveFailures: 1}})
	require.NoError(t, err)
	a := set.For("a.example")
	assert.Same(t, a, set.For("a.example"))
	b := set.For("b.example")
	assert.NotSame(t, a, b)
	assert.Equal(t, 2, set.Len())

	require.NoError(t, call(t, a, http503))
	assert.Equal(t, health.BreakerOpen, set.For("a.example").State())
	assert.Equal(t, health.BreakerClosed, b.State(), "breakers are independent")
	assert.Equal(t, map[string]health.BreakerState{
		"a.example": health.BreakerOpen,
		"b.example": health.BreakerClosed,
	}, set.States())
}

func TestBreakersBoundedSetKeepsOpenBreakers(t *testing.T) {
	set, err := health.NewBreakers(health.BreakersConfig{
		Breaker: health.BreakerConfig{ConsecutiveFailures: 1},
		MaxKeys: 3,
	})
	require.NoError(t, err)
	require.NoError(t, call(t, set.For("a"), http503)) // oldest, but open
	set.For("b")
	set.For("c")
	set.For("b") // c is now the least recently used closed breaker
	set.For("d")
	assert.Equal(t, 3, set.Len())
	states := set.States()
	assert.Contains(t, states, "a", "an open breaker is kept")
	assert.Contains(t, states, "b")
	assert.Contains(t, states, "d")
	assert.NotContains(t, states, "c")
	assert.Equal(t, health.BreakerOpen, states["a"])

	set.For("e") // now only b and d are closed; b is older
	assert.NotContains(t, set.States(), "b")
	assert.Equal(t, 3, set.Len())
}

// For on the key that is already the most recent one writes nothing
// (touch): the order the set evicts in must still be the order of last use.
func TestBreakersEvictByLastUseWhenAKeyRepeats(t *testing.T) {
	set, err := health.NewBreakers(health.BreakersConfig{MaxKeys: 3})
	require.NoError(t, err)
	for range 5 {
		set.For("a")
	}
	set.For("b")
	for range 5 {
		set.For("b")
	}
	set.For("c")
	set.For("a") // b is now the least recently used, however often it was used
	set.For("d")
	assert.ElementsMatch(t, []string{"a", "c", "d"}, keysOf(set.States()))

	set.For("d")
	set.For("d")
	set.For("e") // c
	assert.ElementsMatch(t, []string{"a", "d", "e"}, keysOf(set.States()))
	set.For("f") // a
	assert.ElementsMatch(t, []string{"d", "e", "f"}, keysOf(set.States()))
	assert.Equal(t, 3, set.Len())
}

func keysOf(m map[string]health.BreakerState) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// While keys churn past the bound, the set never holds more than MaxKeys,
// and States is always a snapshot the set was in: never more than MaxKeys
// entries, even while adds and evictions run beside it.
func TestBreakersBoundedUnderConcurrency(t *testing.T) {
	set, err := health.NewBreakers(health.BreakersConfig{MaxKeys: 50})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var writers sync.WaitGroup
	for g := range 8 {
		writers.Go(func() {
			for i := range 500 {
				b := set.For(fmt.Sprintf("host-%d", (g*7+i)%120))
				assert.NotNil(t, b)
				_ = call(t, b, nil)
			}
		})
	}
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			assert.LessOrEqual(t, len(set.States()), 50)
			assert.LessOrEqual(t, set.Len(), 50)
		}
	})
	writers.Wait()
	close(done)
	wg.Wait()
	assert.LessOrEqual(t, set.Len(), 50)
	assert.Len(t, set.States(), set.Len(), "Len counts what the set holds")
}

func TestBreakersHookLearnsTheKey(t *testing.T) {
	var mu sync.Mutex
	var events []string
	set, err := health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{
		Name:                "ignored",
		ConsecutiveFailures: 1,
		OnStateChange: func(key string, from, to health.BreakerState) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, key+": "+from.String()+"->"+to.String())
		},
	}})
	require.NoError(t, err)
	require.NoError(t, call(t, set.For("api.partner.example"), http503))
	assert.Equal(t, []string{"api.partner.example: closed->open"}, events)
	_, err = set.For("api.partner.example").Allow(t.Context())
	assert.ErrorContains(t, err, `breaker "api.partner.example" is open`)
}

func TestBreakersFactoryFailureRefusesAndRetries(t *testing.T) {
	errStore := errors.New("shared state store unreachable")
	var fail atomic.Bool
	fail.Store(true)
	var built atomic.Int64
	set, err := health.NewBreakers(health.BreakersConfig{New: func(key string) (health.Breaker, error) {
		if fail.Load() {
			return nil, errStore
		}
		built.Add(1)
		return health.NewCircuitBreaker(health.BreakerConfig{Name: key})
	}})
	require.NoError(t, err)

	b := set.For("partner")
	assert.Equal(t, health.BreakerOpen, b.State())
	_, err = b.Allow(t.Context())
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "records wait, they do not fail")
	assert.ErrorIs(t, err, health.ErrBreakerOpen)
	assert.ErrorIs(t, err, errStore)
	_, ok := classify.RetryAfter(err)
	assert.True(t, ok)
	assert.Equal(t, 0, set.Len(), "a failed build is not cached")

	fail.Store(false)
	b = set.For("partner")
	assert.Equal(t, health.BreakerClosed, b.State())
	assert.Same(t, b, set.For("partner"))
	assert.EqualValues(t, 1, built.Load())
}

func TestBreakersFactoryReturningNilRefuses(t *testing.T) {
	set, err := health.NewBreakers(health.BreakersConfig{New: func(string) (health.Breaker, error) { return nil, nil }})
	require.NoError(t, err)
	err = set.For("k").Peek()
	assert.ErrorIs(t, err, health.ErrBreakerOpen)
	assert.ErrorContains(t, err, "returned nil")
}

func TestNewBreakersValidates(t *testing.T) {
	_, err := health.NewBreakers(health.BreakersConfig{MaxKeys: -1})
	assert.ErrorContains(t, err, "BreakersConfig.MaxKeys")
	_, err = health.NewBreakers(health.BreakersConfig{Breaker: health.BreakerConfig{FailureRatio: 2}})
	assert.ErrorContains(t, err, "BreakersConfig.Breaker")
	assert.ErrorContains(t, err, "FailureRatio")
}
