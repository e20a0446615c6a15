package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// A full run (slow-0 and a) schedules a's retry, due at 1.5 s, while Run
// waits idle for s's retry, due at 1 s; at 1 s the next run claims s,
// whose second attempt takes 20 s. a's retry must go when due. (Run's idle
// loop once consumed the 1.5 s time and dropped it, being after its own
// deadline, and the next run had none of its own: a went 20 s late.)
func TestADueTimeRunsIdleLoopDroppedIsWaitedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		var mu sync.Mutex
		sent := map[string]int{}
		partners := newFakePartners(func(dest string, m *delivery.Message, _ time.Time) (time.Duration, error) {
			mu.Lock()
			sent[m.ID]++
			n := sent[m.ID]
			mu.Unlock()
			switch {
			case m.ID == "slow-0":
				return 20 * time.Second, nil
			case m.ID == "a" && n == 1:
				return 500 * time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			case m.ID == "s" && n == 1:
				return time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			case m.ID == "s":
				return 20 * time.Second, nil
			}
			return time.Millisecond, nil
		})
		enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")},
			delivery.Message{ID: "a", Destination: "a", Payload: pl("a")})
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, MaxPerRun: 2,
			PollInterval: 30 * time.Second, Policy: retry.Policy{Backoff: retry.Constant(time.Second)}})
		synctest.Wait() // the first run has claimed slow-0 and a
		enqueue(t, store, delivery.Message{ID: "s", Destination: "s", Payload: pl("s")})
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		t.Logf("slow-0 %v, s %v, a %v", partners.requests("slow"), partners.requests("s"), partners.requests("a"))
		got := partners.requests("a")
		require.Len(t, got, 2)
		assert.Less(t, got[1]-got[0], 1600*time.Millisecond, "a's retry went when due, 1.5 s after its first request started (second at %v)", got[1])
	})
}

// notifyingStore is a memstore seen through the Store and Notifier
// interfaces only: not a NextDuer.
type notifyingStore struct {
	delivery.Store
	n delivery.Notifier
}

func (s notifyingStore) Notify() <-chan struct{} { return s.n.Notify() }

// With a store that is not a NextDuer: a full run (slow-0, fast-1)
// schedules fast-1's retry while the current run (medium-0, 500 ms) waits
// for more; that run ends before the retry is due. The retry must go when
// due. (The run once consumed the time, and Run's idle wait, knowing only
// the ended run's due times and with no NextDue to ask, waited for the
// full run's 20 s attempt.)
func TestAFullRunsRetryIsWaitedForWithoutNextDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memstore.New(memstore.Config{})
		store := notifyingStore{mem, mem}
		var mu sync.Mutex
		fastSent := 0
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			switch dest {
			case "slow":
				return 20 * time.Second, nil
			case "medium":
				return 500 * time.Millisecond, nil
			}
			mu.Lock()
			defer mu.Unlock()
			if fastSent++; fastSent == 1 {
				return time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			}
			return time.Millisecond, nil
		})
		enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")},
			delivery.Message{ID: "fast-1", Destination: "fast", Payload: pl("f")})
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, MaxPerRun: 2,
			PollInterval: 30 * time.Second, Policy: retry.Policy{Backoff: retry.Constant(time.Second)}})
		synctest.Wait() // a full run has slow-0 and fast-1
		enqueue(t, store, delivery.Message{ID: "medium-0", Destination: "medium", Payload: pl("m")})
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		got := partners.requests("fast")
		t.Logf("slow %v, medium %v, fast %v", partners.requests("slow"), partners.requests("medium"), got)
		require.Len(t, got, 2)
		assert.Less(t, got[1]-got[0], 1100*time.Millisecond, "the retry went when due, a second after the 500 (sent at %v)", got[1])
	})
}

// Two full runs finish while Run waits: x's (a 20 s attempt) and y's (a
// 100 ms one). The next run's claim skips both, each at its share of the
// workers. When y's attempt ends, its share is free and y's next record
// claimable at once. (Run once waited for the earlier full run, x's, to
// end, or for the one-second recheck: y got one record a second, not ten.
// And when Concurrency full runs were finishing, Run waited for the
// oldest, x's, to end before it started another: y stalled for 20 s.)
func TestAShareFreedInALaterFullRunIsUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newPauselessStore()
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			if dest == "x" {
				return 20 * time.Second, nil
			}
			return 100 * time.Millisecond, nil
		})
		for i := range 20 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("x-%02d", i), Destination: "x", Payload: pl("x")},
				delivery.Message{ID: fmt.Sprintf("y-%02d", i), Destination: "y", Payload: pl("y")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, MaxPerRun: 2})
		time.Sleep(5 * time.Second)
		got := partners.requests("y")
		claims := store.claims.Load()
		cancel()
		wg.Wait()
		t.Logf("y requests in 5 s: %v; claims %d", got, claims)
		require.Len(t, got, 20, "every y record went in the 5 s, none waited for x's 20 s attempts")
		assert.Less(t, got[4], 400*time.Millisecond, "y's next records go when its last ones end (100 ms each), not at the one-second recheck")
		// Two at a time, 100 ms each: the last pair starts at 900 ms.
		assert.Less(t, got[19], 1500*time.Millisecond, "y's records went at its pace (a run whose slow attempt held Run up was the oldest of those finishing)")
	})
}

// committedThenFailedStore commits the first Complete of record id and
// then answers a store error, as a database does whose commit went
// through but whose answer was lost (a timeout, a connection cut after
// COMMIT). settle writes again and the store answers ErrLeaseLost: the
// record is settled, and the next record of its key is claimable.
type committedThenFailedStore struct {
	*memstore.Store
	id   string
	mu   sync.Mutex
	done bool
}

func (s *committedThenFailedStore) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, dup bool) error {
	err := s.Store.Complete(ctx, l, a, dup)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && l.ID == s.id && !s.done {
		s.done = true
		return errors.New("store: connection reset by peer")
	}
	return err
}

// A full run holds slow-0 (a 20 s attempt) and k-1, the head of key K
// (1 ms). When k-1 settles, k-2, the next record of K, is claimable at
// once; no insert, due time, share or run's end says so. It must not
// wait for the full run's slow attempt to end. So too when k-1's outcome
// write commits and its answer is lost: settle writes again and hears
// ErrLeaseLost, and k-1 is delivered all the same.
func TestAKeySuccessorInAFullRunIsClaimedWhenItsHeadSettles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func() delivery.Store
	}{
		{"settle answered", func() delivery.Store { return memstore.New(memstore.Config{}) }},
		{"settle answered lease lost", func() delivery.Store {
			return &committedThenFailedStore{Store: memstore.New(memstore.Config{}), id: "k-1"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := tc.store()
				partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
					if dest == "slow" {
						return 20 * time.Second, nil
					}
					return time.Millisecond, nil
				})
				enqueue(t, store, delivery.Message{ID: "slow-0", Destination: "slow", Payload: pl("s")},
					delivery.Message{ID: "k-1", Destination: "fast", Key: "K", Payload: pl("1")},
					delivery.Message{ID: "k-2", Destination: "fast", Key: "K", Payload: pl("2")})
				ctx, cancel := context.WithCancel(context.Background())
				wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, MaxPerRun: 2,
					PollInterval: 30 * time.Second})
				time.Sleep(time.Minute)
				cancel()
				wg.Wait()
				require.Equal(t, delivery.StateDelivered, get(t, store, "k-1").State)
				got := partners.requests("fast")
				t.Logf("slow %v, fast %v", partners.requests("slow"), got)
				require.Len(t, got, 2)
				assert.Less(t, got[1], 500*time.Millisecond, "k-2 went when k-1 settled, not when slow-0 did")
			})
		})
	}
}
