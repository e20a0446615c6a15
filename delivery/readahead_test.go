package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// outCounter is a Store that records, at each claim, how many records
// are out: claimed and not yet completed (its tests' deliverers always
// succeed, so every record claimed is completed).
type outCounter struct {
	delivery.Store
	mu        sync.Mutex
	out, most int
}

func (s *outCounter) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	recs, err := s.Store.Claim(ctx, limit, lease, skip...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out += len(recs)
	s.most = max(s.most, s.out)
	return recs, err
}

func (s *outCounter) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, duplicate bool) error {
	err := s.Store.Complete(ctx, l, a, duplicate)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out--
	return err
}

// mostOut drains n records with Concurrency workers whose attempts take
// attempt each, and returns the most records out at once.
func mostOut(t *testing.T, n, concurrency int, attempt time.Duration) int {
	t.Helper()
	store := &outCounter{Store: memstore.New(memstore.Config{})}
	for i := range n {
		enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%d", i), Payload: pl("x")})
	}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: concurrency, MaxPerRun: n,
		Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			time.Sleep(attempt)
			return nil
		})})
	rep, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, n, rep.Delivered)
	return store.most
}

// Records claimed ahead of the workers cover what they finish in about
// 50ms: with quick attempts the read-ahead grows past Concurrency (so
// claims, and the settles after them, come in larger batches), up to three
// times Concurrency; with slow attempts it stays at Concurrency, and a
// record waits for at most one attempt before its own.
func TestReadAheadFollowsTheWorkersPace(t *testing.T) {
	const concurrency = 4
	synctest.Test(t, func(t *testing.T) {
		most := mostOut(t, 2000, concurrency, time.Millisecond)
		assert.Greater(t, most, 2*concurrency, "quick attempts: more than Concurrency claimed ahead")
		assert.LessOrEqual(t, most, 4*concurrency, "never more than three times Concurrency ahead")
	})
	synctest.Test(t, func(t *testing.T) {
		most := mostOut(t, 200, concurrency, 200*time.Millisecond)
		assert.Equal(t, 2*concurrency, most, "slow attempts: Concurrency in workers and Concurrency ahead, as before")
	})
	synctest.Test(t, func(t *testing.T) {
		// Concurrency 1 keeps its order: one worker takes the records in
		// claim order, however many wait ahead of it.
		store := memstore.New(memstore.Config{})
		for i := range 50 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
		}
		sc := newScript()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: delivery.DelivererFunc(
			func(ctx context.Context, m *delivery.Message) error {
				time.Sleep(time.Millisecond)
				return sc.Deliver(ctx, m)
			}), MaxPerRun: 50})
		_, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		for i, id := range sc.seen {
			assert.Equal(t, fmt.Sprintf("r-%02d", i), id)
		}
	})
}
