package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// pauselessStore cannot write a pause or a disable (its connection drops
// on those statements), and counts the claims it answers.
type pauselessStore struct {
	delivery.Store
	claims atomic.Int64
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
// claimed after it was sent to the partner that was down (one failed
// attempt and one failed pause write each).
func TestAPauseTheStoreDidNotTakeStillHoldsThisProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records = 40
		store := &pauselessStore{Store: memstore.New(memstore.Config{})}
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

		// Run on: the process probes the partner when its own pause ends
		// (each failure pauses again, and the write fails again), claims
		// no more than it must meanwhile, and delivers everything once
		// the partner is back.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		claimsBefore := store.claims.Load()
		go func() { _ = d.Run(ctx); close(done) }()
		time.Sleep(downFor)
		t.Logf("while down: %d requests to the partner, %d claims", len(partners.requests("down")), store.claims.Load()-claimsBefore)
		assert.LessOrEqual(t, len(partners.requests("down")), 4*concurrency,
			"a few probes while down, each after a pause")
		assert.Less(t, store.claims.Load()-claimsBefore, int64(100),
			"Run waits for the pause to end instead of claiming in a loop")
		time.Sleep(2 * time.Minute)
		cancel()
		<-done
		assert.Len(t, partners.received("down"), records, "every record is delivered once the partner is back")
	})
}

// A 410 disables the destination until a person resumes it; when the
// store cannot take the disable, this process holds the destination's
// records back for a pause's length instead of sending each one to a
// partner that said it is gone, then tries the disable again.
func TestADisableTheStoreDidNotTakeStillHoldsThisProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records = 20
		store := &pauselessStore{Store: memstore.New(memstore.Config{})}
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			return time.Millisecond, &classify.Error{Class: classify.ClassPermanent, Status: 410}
		})
		for i := range records {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Destination: "hook", Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 2})
		_, err := d.RunOnce(context.Background())
		require.ErrorIs(t, err, errPauseNotWritten, "the failed disable is reported")
		assert.LessOrEqual(t, len(partners.requests("hook")), 2, "only the records already in an attempt reach the partner")
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err, "nothing is claimed or sent while this process holds the destination")
		assert.LessOrEqual(t, len(partners.requests("hook")), 2)

		time.Sleep(6 * time.Second) // DefaultPauseBackoff's first step, and a second
		_, err = d.RunOnce(context.Background())
		require.ErrorIs(t, err, errPauseNotWritten, "the next answer tries the disable again")
		assert.LessOrEqual(t, len(partners.requests("hook")), 4)
		assert.EqualValues(t, records, countState(t, store, "hook", delivery.StatePending), "no record lost or dead-lettered")
	})
}
