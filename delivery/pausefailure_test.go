package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// pauselessStore is a memstore (with its NextDue and Notify) that cannot
// write a pause or a disable (its connection drops on those statements),
// and counts the claims it answers.
type pauselessStore struct {
	*memstore.Store
	claims atomic.Int64
}

func newPauselessStore() *pauselessStore {
	return &pauselessStore{Store: memstore.New(memstore.Config{})}
}

var errPauseNotWritten = errors.New("store: connection reset by peer")

func (s *pauselessStore) PauseDestination(context.Context, string, delivery.Pause) (delivery.Destination, error) {
	return delivery.Destination{}, errPauseNotWritten
}

func (s *pauselessStore) DisableDestination(context.Context, string, string, string) error {
	return errPauseNotWritten
}

func (s *pauselessStore) Claim(ctx context.Context, n int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	s.claims.Add(1)
	return s.Store.Claim(ctx, n, lease, skip...)
}

// A destination goes down and its pause cannot be written. The store does
// not hold its records back, so this process must: before, only the
// records claimed before the failed write waited, and every record
// claimed after it was sent to the partner that was down; a destination
// fault spends no attempt, so the records went round at once (24,000
// requests and 98,303 claims in 12 s).
func TestAPauseTheStoreDidNotTakeStillHoldsThisProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records = 40
		store := newPauselessStore()
		start := time.Now()
		const downFor = 12 * time.Second
		partners := newFakePartners(func(dest string, _ *delivery.Message, now time.Time) (time.Duration, error) {
			if dest == "down" && now.Sub(start) < downFor {
				return time.Millisecond, errRefused
			}
			return time.Millisecond, nil
		})
		for i := range records {
			enqueue(t, store,
				delivery.Message{ID: fmt.Sprintf("down-%02d", i), Destination: "down", Payload: pl("d")},
				delivery.Message{ID: fmt.Sprintf("up-%02d", i), Destination: "up", Payload: pl("u")})
		}
		const concurrency = 2
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: concurrency})

		rep, err := d.RunOnce(context.Background())
		require.ErrorIs(t, err, errPauseNotWritten, "the failed pause write is reported")
		assert.Len(t, partners.received("up"), records, "the healthy destination is not held")
		assert.LessOrEqual(t, len(partners.requests("down")), concurrency,
			"only the records already in an attempt reach the partner that is down")
		assert.Zero(t, rep.DeadLettered+rep.Discarded, "no record fails for its destination's outage")
		later := 0
		for i := range records {
			r := get(t, store, fmt.Sprintf("down-%02d", i))
			require.Equal(t, delivery.StatePending, r.State)
			if !r.NextAttemptAt.Before(time.Now().Add(4 * time.Second)) {
				later++
			}
		}
		assert.Equal(t, rep.Claimed-records, later,
			"each record of the destination this process had in hand waits for the end of its pause, where the store would hand it to any process at once")

		// Run on: when the hold ends, one record probes the partner; its
		// fault holds the destination again, for longer (the write fails
		// again). Meanwhile Run claims once a second at most, and
		// everything is delivered once the partner is back.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		claimsBefore := store.claims.Load()
		go func() { _ = d.Run(ctx); close(done) }()
		time.Sleep(downFor)
		t.Logf("while down: %d requests to the partner, %d claims", len(partners.requests("down")), store.claims.Load()-claimsBefore)
		assert.LessOrEqual(t, len(partners.requests("down")), concurrency+1,
			"one probe when the first hold ended (5s); the next hold lasts 15s")
		assert.Less(t, store.claims.Load()-claimsBefore, int64(3*downFor/time.Second),
			"Run claims about once a second while the destination is held, not in a loop")
		time.Sleep(2 * time.Minute)
		cancel()
		<-done
		assert.Len(t, partners.received("down"), records, "every record is delivered once the partner is back")
	})
}

// The store that takes pauses counts them, so a destination down for a
// long time is probed less and less often (PauseBackoff: 5s, 15s, 45s,
// ... 5m). A local hold must back off the same way; each lasting the
// first step, a partner down for ten minutes received 960 requests from
// one process of Concurrency 8 (one per worker every five seconds),
// against 13 from a store that took the pauses.
func TestALocalHoldBacksOffLikeTheStorePause(t *testing.T) {
	for _, pauseless := range []bool{false, true} {
		t.Run(fmt.Sprintf("pauseless=%v", pauseless), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var store delivery.Store = memstore.New(memstore.Config{})
				if pauseless {
					store = newPauselessStore()
				}
				partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
					return time.Millisecond, errRefused
				})
				for i := range 200 {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%03d", i), Destination: "down", Payload: pl("x")})
				}
				ctx, cancel := context.WithCancel(context.Background())
				wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 8})
				time.Sleep(10 * time.Minute)
				cancel()
				wg.Wait()
				got := len(partners.requests("down"))
				t.Logf("requests in 10m: %d", got)
				assert.LessOrEqual(t, got, 8+10, "the workers in flight at the first fault, then one probe per pause")
				assert.EqualValues(t, 200, countState(t, store, "down", delivery.StatePending), "no record lost or dead-lettered")
			})
		})
	}
}

// While this process holds a destination the store did not pause, the
// store's NextDue counts its records as due and hides when another
// destination's records come due. Run must not then sleep to the hold's
// end (here up to 10 minutes), nor for a whole PollInterval: a healthy
// destination's retry, due one second after its failure, went 30 seconds
// late.
func TestALocalHoldDelaysNoOtherDestination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newPauselessStore()
		start := time.Now()
		var upCalls atomic.Int64
		partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
			if dest == "down" {
				return time.Millisecond, errRefused
			}
			if upCalls.Add(1) == 1 {
				return time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			}
			return time.Millisecond, nil
		})
		for i := range 50 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("down-%02d", i), Destination: "down", Payload: pl("x")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 2,
			PollInterval: 30 * time.Second, PauseBackoff: retry.Constant(10 * time.Minute),
			Policy: retry.Policy{MaxAttempts: 5, Backoff: retry.Constant(time.Second)}})
		time.Sleep(40 * time.Second)
		enqueue(t, store, delivery.Message{ID: "up-1", Destination: "up", Payload: pl("u")})
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		got := partners.requests("up")
		require.Len(t, got, 2, "a 500, then the retry")
		assert.LessOrEqual(t, got[1]-got[0], 2*time.Second+100*time.Millisecond,
			"the retry, due a second after the 500, was sent at %v (first at %v; start %v)", got[1], got[0], start)
	})
}

// A 410 disables the destination until a person resumes it; when the
// store cannot take the disable, this process holds the destination's
// records back as for a pause instead of sending each one to a partner
// that said it is gone, then one record probes, and its 410 tries the
// disable again.
func TestADisableTheStoreDidNotTakeStillHoldsThisProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records = 20
		store := newPauselessStore()
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			return time.Millisecond, &classify.Error{Class: classify.ClassPermanent, Status: 410}
		})
		for i := range records {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Destination: "hook", Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 2})
		_, err := d.RunOnce(context.Background())
		require.ErrorIs(t, err, errPauseNotWritten, "the failed disable is reported")
		sent := len(partners.requests("hook"))
		assert.LessOrEqual(t, sent, 2, "only the records already in an attempt reach the partner")
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err, "nothing is claimed or sent while this process holds the destination")
		assert.Len(t, partners.requests("hook"), sent)

		time.Sleep(6 * time.Second) // DefaultPauseBackoff's first step, and a second
		_, err = d.RunOnce(context.Background())
		require.ErrorIs(t, err, errPauseNotWritten, "the probe's 410 tries the disable again")
		assert.Len(t, partners.requests("hook"), sent+1, "one probe")
		assert.EqualValues(t, records, countState(t, store, "hook", delivery.StatePending), "no record lost or dead-lettered")
	})
}

// A record that passed its first hold check waits for its gate (or a rate
// token) while a local hold begins and ends; asked again after the token,
// it becomes the hold's probe. That probe must be reported like any other:
// it was not, so the hold kept the record as its probe, and every later
// claim skipped the destination for good.
func TestAProbeTakenAfterATokenWaitIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newPauselessStore()
		var xCalls atomic.Int64
		partners := newFakePartners(func(_ string, m *delivery.Message, _ time.Time) (time.Duration, error) {
			if m.ID == "x" && xCalls.Add(1) == 1 { // the partner is down for a moment
				return time.Millisecond, errRefused
			}
			return time.Millisecond, nil
		})
		release := make(chan struct{})
		var gateCalls atomic.Int64
		gate := delivery.GateFunc(func(ctx context.Context) error {
			if gateCalls.Add(1) == 1 {
				<-release // the first record's gate check is slow
			}
			return nil
		})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: 2, MaxPerRun: 1, Deliverer: partners,
			Destinations: map[string]delivery.DestinationConfig{"a": {Gate: gate, RateLimit: rate.NewLimiter(1000, 10)}}})

		enqueue(t, store, delivery.Message{ID: "r", Destination: "a", Payload: pl("r")})
		first := make(chan struct{})
		go func() { _, _ = d.RunOnce(context.Background()); close(first) }()
		synctest.Wait() // r is in its gate check

		enqueue(t, store, delivery.Message{ID: "x", Destination: "a", Payload: pl("x")})
		_, err := d.RunOnce(context.Background()) // x: refused, the pause not written: held 5s
		require.ErrorIs(t, err, errPauseNotWritten)

		time.Sleep(6 * time.Second) // the hold ends
		close(release)
		<-first
		require.Equal(t, []string{"r"}, partners.received("a"), "r went as the hold's probe, and the partner answered")

		enqueue(t, store, delivery.Message{ID: "y", Destination: "a", Payload: pl("y")})
		for range 120 {
			_, _ = d.RunOnce(context.Background())
			time.Sleep(time.Second)
		}
		assert.ElementsMatch(t, []string{"r", "x", "y"}, partners.received("a"), "the probe's healthy answer ended the hold")
	})
}

// While a local hold's probe is out (the partner back but slow) in a run
// Run is not waiting on, the store counts the destination's records as
// due and no hold end is pending: Run claimed (and asked NextDue) every
// 10 ms, 1,010 claims in 10 s.
func TestRunDoesNotSpinWhileALocalProbeIsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newPauselessStore()
		start := time.Now()
		partners := newFakePartners(func(_ string, _ *delivery.Message, now time.Time) (time.Duration, error) {
			if now.Sub(start) < 5*time.Second {
				return time.Millisecond, errRefused // down
			}
			return 20 * time.Second, nil // back, slowly
		})
		for i := range 20 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Destination: "down", Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 2})
		_, err := d.RunOnce(context.Background())
		require.ErrorIs(t, err, errPauseNotWritten)
		time.Sleep(5500 * time.Millisecond) // the hold (5s) ends
		probeRun := make(chan struct{})
		go func() { _, _ = d.RunOnce(context.Background()); close(probeRun) }()
		synctest.Wait() // one record probes, for 20s
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		before := store.claims.Load()
		go func() { _ = d.Run(ctx); close(done) }()
		time.Sleep(10 * time.Second)
		during := store.claims.Load() - before
		cancel()
		<-done
		<-probeRun
		assert.Less(t, during, int64(3*10), "about one claim a second while the probe is out, not one every 10 ms")
	})
}

// A probe cut off at shutdown (after ShutdownGrace) never heard from the
// partner: the hold must stand. It ended, and the next runs sent every
// worker's record to the partner that was still down.
func TestAProbeCutOffAtShutdownKeepsTheHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newPauselessStore()
		var calls atomic.Int64
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			if calls.Add(1) == 1 {
				return time.Millisecond, errRefused
			}
			return 20 * time.Second, errRefused // still down, and slow to say so
		})
		for i := range 20 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Destination: "down", Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4, MaxPerRun: 1, ShutdownGrace: time.Second})
		_, err := d.RunOnce(context.Background()) // refused: held 5s
		require.ErrorIs(t, err, errPauseNotWritten)
		time.Sleep(6 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = d.RunOnce(ctx) // the probe, cut off after 1s and ShutdownGrace
		cancel()
		require.Len(t, partners.requests("down"), 2)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { _, _ = d.RunOnce(context.Background()) })
		}
		time.Sleep(time.Second)
		assert.LessOrEqual(t, len(partners.requests("down")), 3, "the partner never answered the probe: one record probes again, at most")
		wg.Wait()
	})
}
