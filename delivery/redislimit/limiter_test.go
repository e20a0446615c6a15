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
// client, like n processes; the prefix's keys are deleted afterwards.
func newLimiters(t *testing.T, n int) []*redislimit.Limiter {
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
		l, err := redislimit.New(newClient(t), redislimit.Config{Prefix: prefix})
		require.NoError(t, err)
		out[i] = l
	}
	return out
}

// Three limiters on separate clients wait for tokens of one limit of
// 50/s, burst 10, for three seconds: what they take between them, on
// this host's clock, never exceeds 10 + 50·t over any span t (plus one
// for the time between Redis granting and the taker noting it), and comes
// close to it.
func TestLimitSharedByProcesses(t *testing.T) {
	lims := newLimiters(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []time.Time
	var wg sync.WaitGroup
	for _, l := range lims {
		for range 4 {
			wg.Go(func() {
				for l.Wait(ctx, "partner", 50, 10) == nil {
					mu.Lock()
					got = append(got, time.Now())
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	slices.SortFunc(got, time.Time.Compare)
	require.NotEmpty(t, got)
	for i := range got {
		for j := i; j < len(got); j++ {
			span := got[j].Sub(got[i]).Seconds()
			require.LessOrEqual(t, float64(j-i+1), 10+50*span+1, "%d tokens in %.3fs", j-i+1, span)
		}
	}
	span := got[len(got)-1].Sub(got[0]).Seconds()
	assert.GreaterOrEqual(t, float64(len(got)), 0.9*(10+50*span), "%d tokens in %.2fs", len(got), span)
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
