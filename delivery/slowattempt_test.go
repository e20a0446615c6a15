package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// A run whose claim finds nothing while an attempt is still out waited
// for that attempt to end before it claimed again, and Run, waiting on
// the run, did not look either: a record enqueued for a healthy
// destination while a slow partner took 20 s to answer was sent 20 s
// late (up to AttemptTimeout, 30 s by default), and so was a healthy
// destination's retry that came due meanwhile. A slow partner must cost
// the others nothing.
func TestASlowAttemptHoldsUpNoOtherDestination(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fast  func(n int) error // the fast partner's answer to its nth request
		sends int
	}{
		{"insert", func(int) error { return nil }, 1},
		{"retry", func(n int) error {
			if n == 1 {
				return &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			}
			return nil
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := memstore.New(memstore.Config{})
				fastSent := 0
				partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
					if dest == "slow" {
						return 20 * time.Second, nil
					}
					fastSent++ // one at a time: Concurrency 1 per destination here
					return time.Millisecond, tc.fast(fastSent)
				})
				for i := range 3 {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("slow-%d", i), Destination: "slow", Payload: pl("s")})
				}
				ctx, cancel := context.WithCancel(context.Background())
				wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4,
					Destinations: map[string]delivery.DestinationConfig{"fast": {}, "slow": {}},
					Policy:       retry.Policy{Backoff: retry.Constant(time.Second)}})
				time.Sleep(time.Second) // the slow partner has all three
				enqueue(t, store, delivery.Message{ID: "fast-1", Destination: "fast", Payload: pl("f")})
				time.Sleep(time.Minute)
				cancel()
				wg.Wait()

				got := partners.requests("fast")
				require.Len(t, got, tc.sends)
				assert.Less(t, got[0], 1100*time.Millisecond, "sent when enqueued, not when a slow attempt ended")
				if tc.sends > 1 {
					assert.Less(t, got[1]-got[0], 1100*time.Millisecond, "the retry went when due, a second later")
				}
				assert.Len(t, partners.received("slow"), 3)
			})
		})
	}
}

// Two dispatchers share a store; one has its only worker on a slow
// partner's 20 s attempt, the other is idle. A record for a healthy
// destination must go at once, by the idle one. The busy one's run,
// waiting for more to claim, took the store's insert signal (one
// listener gets it) and claimed the record to wait behind its slow
// attempt: sent 17.5 s late.
func TestABusyDispatcherLeavesInsertsToAnIdlePeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			if dest == "slow" {
				return 20 * time.Second, nil
			}
			return time.Millisecond, nil
		})
		enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")})
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 2, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 1})
		enqueuedAt := map[string]time.Duration{}
		start := time.Now()
		for i := range 10 {
			time.Sleep(1234 * time.Millisecond)
			id := fmt.Sprintf("fast-%d", i)
			enqueuedAt[id] = time.Since(start)
			enqueue(t, store, delivery.Message{ID: id, Destination: "fast", Payload: pl("f")})
		}
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		for id, at := range enqueuedAt {
			r := get(t, store, id)
			assert.Less(t, r.LastAttempt.StartedAt.Sub(start)-at, 500*time.Millisecond, "%s went at once, by the idle dispatcher", id)
		}
	})
}

// A run with attempts out waits for the next retry it scheduled, each in
// turn: it waited only for the first, and the second retry (due a second
// after the first) went when the slow attempt ended, 23 s late.
func TestEveryRetryARunScheduledIsWaitedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		fastSent := 0
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			if dest == "slow" {
				return 25 * time.Second, nil
			}
			fastSent++
			if fastSent <= 2 {
				return time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			}
			return time.Millisecond, nil
		})
		enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")})
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, PollInterval: 30 * time.Second,
			Policy: retry.Policy{Backoff: retry.Constant(time.Second)}})
		time.Sleep(time.Second)
		enqueue(t, store, delivery.Message{ID: "fast-1", Destination: "fast", Payload: pl("f")})
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		got := partners.requests("fast")
		require.Len(t, got, 3)
		assert.Less(t, got[1]-got[0], 1100*time.Millisecond, "the first retry went when due")
		assert.Less(t, got[2]-got[1], 1100*time.Millisecond, "the second retry went when due, a second after the first")
	})
}

// A run that claimed MaxPerRun records hands Run over to the next run
// while its attempts finish. A healthy destination's retry that such a
// full run schedules must go when due, not when the full run's slow
// attempt ends.
func TestAFullRunsRetryIsNotHeldBySlowAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		fastSent := 0
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			if dest == "slow" {
				return 20 * time.Second, nil
			}
			fastSent++
			if fastSent == 1 {
				return time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			}
			return time.Millisecond, nil
		})
		enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")},
			delivery.Message{ID: "fast-1", Destination: "fast", Payload: pl("f")})
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, MaxPerRun: 2,
			PollInterval: 30 * time.Second, Policy: retry.Policy{Backoff: retry.Constant(time.Second)}})
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		got := partners.requests("fast")
		require.Len(t, got, 2)
		assert.Less(t, got[1]-got[0], 1100*time.Millisecond, "the retry went when due, a second after the 500 (sent at %v, first at %v)", got[1], got[0])
	})
}

// Two slow partners hold their share of the workers in a full run; the
// next run's claim skips both and finds nothing, while the store reports
// their next records due now. Run must not claim every 10 ms until the
// full run's attempts end.
func TestRunDoesNotSpinWhileSharesAreHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newPauselessStore() // counts claims; no pause is written here
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			return 20 * time.Second, nil
		})
		for i := range 3 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("x-%d", i), Destination: "x", Payload: pl("x")},
				delivery.Message{ID: fmt.Sprintf("y-%d", i), Destination: "y", Payload: pl("y")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 2, MaxPerRun: 2})
		time.Sleep(10 * time.Second)
		during := store.claims.Load()
		cancel()
		wg.Wait()
		t.Logf("claims in 10s: %d", during)
		assert.Less(t, during, int64(3*10), "about one claim a second at most while the partners hold their shares, not one every 10 ms")
	})
}

// As TestABusyDispatcherLeavesInsertsToAnIdlePeer, but the busy
// dispatcher's slow attempt is in a run that claimed MaxPerRun records:
// Run, idle while that full run finishes, takes the store's insert signal
// and claims the record, which waits for the full run's worker.
func TestADispatcherWithAFullRunLeavesInsertsToAnIdlePeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			if dest == "slow" {
				return 20 * time.Second, nil
			}
			return time.Millisecond, nil
		})
		enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")},
			delivery.Message{ID: "slow-1", Destination: "slow", Payload: pl("s")})
		ctx, cancel := context.WithCancel(context.Background())
		// The first dispatcher to claim takes both slow records in one
		// full run: both its workers are on the slow partner.
		wg := runFleet(t, ctx, 2, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 2, MaxPerRun: 2})
		enqueuedAt := map[string]time.Duration{}
		start := time.Now()
		for i := range 10 {
			time.Sleep(1234 * time.Millisecond)
			id := fmt.Sprintf("fast-%d", i)
			enqueuedAt[id] = time.Since(start)
			enqueue(t, store, delivery.Message{ID: id, Destination: "fast", Payload: pl("f")})
		}
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		for i := range 10 {
			id := fmt.Sprintf("fast-%d", i)
			r := get(t, store, id)
			assert.Less(t, r.LastAttempt.StartedAt.Sub(start)-enqueuedAt[id], 500*time.Millisecond, "%s went at once, by the idle dispatcher", id)
		}
	})
}
