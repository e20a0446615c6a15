package redislimit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/redislimit"
	"github.com/outbound-go/outbound/internal/testenv"
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

// newLimiters returns n limiters under one fresh prefix, each with its own
// client (with hooks), like n processes; the prefix's keys are deleted
// afterwards.
func newLimiters(t *testing.T, n int, hooks ...goredis.Hook) []*redislimit.Limiter {
	t.Helper()
	prefix := testenv.UniqueName(t, "rate") + ":"
	admin := newClient(t)
	t.Cleanup(func() {
		keys, err := admin.Keys(context.Background(), prefix+"*").Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, admin.Del(context.Background(), keys...).Err())
		}
	})
	out := make([]*redislimit.Limiter, n)
	for i := range out {
		c := newClient(t)
		for _, h := range hooks {
			c.AddHook(h)
		}
		l, err := redislimit.New(c, redislimit.Config{Prefix: prefix})
		require.NoError(t, err)
		out[i] = l
	}
	return out
}

// grants notes, for every token Redis granted, a span of this host's
// clock that holds the moment it was granted: from before the script was
// sent to after its answer came back. A late goroutine only widens the
// span, so checks on spans never fail for the host's scheduling.
type grants struct {
	mu    sync.Mutex
	spans []span
}

type span struct{ from, to time.Time }

func (g *grants) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (g *grants) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (g *grants) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		from := time.Now()
		err := next(ctx, cmd)
		to := time.Now()
		if c, ok := cmd.(*goredis.Cmd); ok && err == nil && (cmd.Name() == "evalsha" || cmd.Name() == "eval") {
			if wait, err := c.Int64(); err == nil && wait == 0 {
				g.mu.Lock()
				g.spans = append(g.spans, span{from, to})
				g.mu.Unlock()
			}
		}
		return err
	}
}

// check asserts that over any span of length t, at most burst + rate·t
// tokens were granted: for every pair of grants, those whose whole span
// lies between the first's start and the second's end were granted
// within it. It also asserts that the takers came close to the limit, and
// returns how many tokens were granted.
func (g *grants) check(t *testing.T, rate float64, burst int) int {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	require.NotEmpty(t, g.spans)
	byStart := slices.Clone(g.spans)
	slices.SortFunc(byStart, func(a, b span) int { return a.from.Compare(b.from) })
	for i, first := range byStart {
		ends := make([]time.Time, 0, len(byStart)-i)
		for _, s := range byStart[i:] {
			ends = append(ends, s.to)
		}
		slices.SortFunc(ends, time.Time.Compare)
		for n, end := range ends {
			if window := end.Sub(first.from).Seconds(); float64(n+1) > float64(burst)+rate*window+1e-9 {
				require.Failf(t, "over the limit", "%d tokens granted within %.4fs from %v", n+1, window, first.from)
			}
		}
	}
	total := byStart[len(byStart)-1].to.Sub(byStart[0].from).Seconds()
	assert.GreaterOrEqual(t, float64(len(g.spans)), 0.9*(float64(burst)+rate*total), "%d tokens in %.2fs", len(g.spans), total)
	return len(g.spans)
}

// takeFor makes 4 goroutines of each limiter wait for tokens of one limit
// of 50/s, burst 10, for d.
func takeFor(lims []*redislimit.Limiter, d time.Duration) (taken []int) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	taken = make([]int, len(lims))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, l := range lims {
		for range 4 {
			wg.Go(func() {
				for l.Wait(ctx, "partner", 50, 10) == nil {
					mu.Lock()
					taken[i]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return taken
}

// Three limiters on separate clients, like three processes, wait for
// tokens of one limit of 50/s, burst 10, for 11 seconds: Redis grants
// them at most 10 + 50·t over any span t between them, and close to it.
func TestLimitSharedByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 11 seconds")
	}
	t.Parallel()
	g := &grants{}
	lims := newLimiters(t, 3, g)
	taken := takeFor(lims, 11*time.Second)
	n := g.check(t, 50, 10)
	t.Logf("%d tokens; by limiter: %v", n, taken)
	for i, k := range taken {
		assert.Positive(t, k, "limiter %d took part", i)
	}
}

// The same three processes, but with clocks 200ms ahead and 200ms behind
// where the limiter uses this process's clock at all (the deadline check
// and the wait for the next token): the one whose timers fire 200ms early
// asks again early, the one whose fire 200ms late asks late. The limit is
// kept on the Redis server's clock, so it holds all the same over 11
// seconds: at most 10 + 50·t over any span t, and close to it.
func TestLimitHoldsWithSkewedClocks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 11 seconds")
	}
	t.Parallel()
	g := &grants{}
	lims := newLimiters(t, 3, g)
	for i, skew := range []time.Duration{0, 200 * time.Millisecond, -200 * time.Millisecond} {
		lims[i].SetClockForTest(func() time.Time { return time.Now().Add(skew) },
			func(ctx context.Context, d time.Duration) error {
				// A clock ahead wakes late, one behind wakes early (but
				// not in a busy loop on Redis).
				tm := time.NewTimer(max(d+skew, time.Millisecond))
				defer tm.Stop()
				select {
				case <-tm.C:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
	}
	taken := takeFor(lims, 11*time.Second)
	n := g.check(t, 50, 10)
	t.Logf("%d tokens; by limiter (honest, ahead, behind): %v", n, taken)
	for i, k := range taken {
		assert.Positive(t, k, "limiter %d took part", i)
	}
}

func TestTake(t *testing.T) {
	l := newLimiters(t, 1)[0]
	ctx := context.Background()
	for range 3 {
		wait, err := l.Take(ctx, "x", 1, 3)
		require.NoError(t, err)
		assert.Zero(t, wait, "the burst")
	}
	wait, err := l.Take(ctx, "x", 1, 3)
	require.NoError(t, err)
	assert.Greater(t, wait, 900*time.Millisecond, "the next token is a second away")
	assert.LessOrEqual(t, wait, time.Second)
	other, err := l.Take(ctx, "y", 1, 3)
	require.NoError(t, err)
	assert.Zero(t, other, "another key, another limit")

	for _, bad := range []struct {
		rate  float64
		burst int
	}{{0, 1}, {-1, 1}, {delivery.MaxRate * 2, 1}, {1, -1}} {
		_, err := l.Take(ctx, "x", bad.rate, bad.burst)
		assert.ErrorIs(t, err, redislimit.ErrInvalid, "%+v", bad)
	}
	_, err = redislimit.New(nil, redislimit.Config{})
	assert.ErrorIs(t, err, redislimit.ErrInvalid)
}

func TestMiddleware(t *testing.T) {
	l := newLimiters(t, 1)[0]
	sent := 0
	d := delivery.Chain(delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		sent++
		return nil
	}), l.Middleware(redislimit.PerDestination(1, 1)))
	m := &delivery.Message{Destination: "crm"}
	require.NoError(t, d.Deliver(context.Background(), m))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := d.Deliver(ctx, m)
	assert.Equal(t, classify.ClassUnavailable, classify.Of(err), "no token before the deadline: no attempt spent")
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.Equal(t, 1, sent)

	bad := delivery.Chain(delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
		l.Middleware(redislimit.PerDestination(-1, 1)))
	assert.Equal(t, classify.ClassPermanent, classify.Of(bad.Deliver(context.Background(), m)))
}
