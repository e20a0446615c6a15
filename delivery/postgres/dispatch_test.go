package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
)

// Three dispatchers, each with its own pool and store on the same table,
// drain 20,000 records: every record is delivered, none is lost, and
// without crashes none is delivered twice.
func TestThreeDispatchersDrainTogether(t *testing.T) {
	const n = 20_000
	first, firstPool := newStore(t, nil)
	schema := schemaOf(t, first)
	ids := killtest.Enqueue(t, first, "r", n)

	counter := killtest.NewCounter()
	send := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		counter.Add(m.DeliveryKey())
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	perDispatcher := make([]int, 3)
	var mu sync.Mutex
	for i := range 3 {
		pool := newPool(t) // a pool per dispatcher, as separate instances have
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
			Store: s, Deliverer: send, Concurrency: 4, MaxPerRun: 200, Lease: 5 * time.Minute,
			Observer: runCounter(func(r delivery.Report) { mu.Lock(); perDispatcher[i] += r.Delivered; mu.Unlock() }),
		})
		require.NoError(t, err)
		wg.Go(func() { errs[i] = d.Run(ctx) })
	}

	deadline := time.Now().Add(5 * time.Minute)
	for counter.Unique() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // waiting for the drain, not timing it
	}
	cancel()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "dispatcher %d", i)
	}

	dups, missing := counter.Duplicates(ids)
	t.Logf("delivered %d records with 3 dispatchers (%v each): %d duplicates", n, perDispatcher, dups)
	require.Empty(t, missing, "every record delivered at least once")
	assert.Zero(t, dups, "no crash, so no record is delivered twice")
	for i, c := range perDispatcher {
		assert.Positive(t, c, "dispatcher %d took part", i)
	}
	st, err := first.Stats(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, n, st.Count(delivery.StateDelivered), "every record is marked delivered")
	var keysLeft int
	require.NoError(t, firstPool.QueryRow(context.Background(), `SELECT count(*) FROM `+first.Name()+`_keys`).Scan(&keysLeft))
	assert.Zero(t, keysLeft)
}

// runCounter is an Observer that reports each run.
type runCounter func(delivery.Report)

func (f runCounter) ObserveAttempt(context.Context, delivery.AttemptEvent) {}
func (f runCounter) ObserveRun(_ context.Context, r delivery.Report)       { f(r) }
