package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// deliveryCounter counts deliveries per key.
type deliveryCounter struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newDeliveryCounter() *deliveryCounter { return &deliveryCounter{counts: map[string]int{}} }

func (c *deliveryCounter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.total++
	c.mu.Unlock()
}

// unique returns how many distinct keys were delivered.
func (c *deliveryCounter) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// duplicates returns how many deliveries repeated an earlier one, and
// which keys were missing from want.
func (c *deliveryCounter) duplicates(want []string) (dups int, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range want {
		if c.counts[k] == 0 {
			missing = append(missing, k)
		}
	}
	return c.total - len(c.counts), missing
}

// enqueueMany enqueues n records in batches of 500; every fourth has one
// of 50 ordering keys. It returns their ids.
func enqueueMany(t testing.TB, s *postgres.Store, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	msgs := make([]delivery.Message, 0, 500)
	flush := func() {
		_, err := s.Enqueue(context.Background(), msgs...)
		require.NoError(t, err)
		msgs = msgs[:0]
	}
	for i := range n {
		id := fmt.Sprintf("%s-%06d", prefix, i)
		key := ""
		if i%4 == 0 {
			key = fmt.Sprintf("key-%d", i%50)
		}
		msgs = append(msgs, delivery.Message{ID: id, Key: key, Payload: []byte(`{"n":` + fmt.Sprint(i) + `}`)})
		ids = append(ids, id)
		if len(msgs) == cap(msgs) {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
	return ids
}

// Three dispatchers, each with its own pool and store on the same table,
// drain 20,000 records: every record is delivered, none is lost, and
// without crashes none is delivered twice.
func TestThreeDispatchersDrainTogether(t *testing.T) {
	const n = 20_000
	first, firstPool := newStore(t, nil)
	schema := schemaOf(t, first)
	ids := enqueueMany(t, first, "r", n)

	counter := newDeliveryCounter()
	send := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		counter.add(m.DeliveryKey())
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
	for counter.unique() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // waiting for the drain, not timing it
	}
	cancel()
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "dispatcher %d", i)
	}

	dups, missing := counter.duplicates(ids)
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
