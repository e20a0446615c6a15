package delivery_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// sent is one request at the partner: when, and whether it was a retry.
type sent struct {
	at    time.Duration
	retry bool
}

// An outage of 30s with 1,000 records due, new records arriving at 20/s
// throughout, a 1s retry backoff that would make every failed record
// retry each second: with a retry budget (20%, 10s, floor 10), retries
// are never more than 10 + 20% of the requests in any 10s window, the
// deferred retries spend no attempt, and everything is delivered once the
// partner is back.
func TestRetryBudgetAfterAnOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		start := time.Now()
		var mu sync.Mutex
		var log []sent
		partner := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
			now := time.Since(start)
			mu.Lock()
			log = append(log, sent{now, m.Attempt > 1})
			mu.Unlock()
			if now < 30*time.Second {
				return http503
			}
			return nil
		})
		for i := range 1000 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("old-%04d", i), Payload: pl("old")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { // new records keep coming: first attempts
			for i := 0; ctx.Err() == nil && i < 7200; i++ {
				enqueue(t, store, delivery.Message{ID: fmt.Sprintf("new-%04d", i), Payload: pl("new")})
				time.Sleep(50 * time.Millisecond)
			}
		})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 8,
			Policy:      retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 1000},
			RetryBudget: &delivery.RetryBudget{}})
		wg.Go(func() { _ = d.Run(ctx) })
		time.Sleep(6*time.Minute + 10*time.Second)
		cancel()
		wg.Wait()

		mu.Lock()
		defer mu.Unlock()
		slices.SortStableFunc(log, func(a, b sent) int { return int(a.at - b.at) })
		worst := 0.0
		for j := range log {
			total, retries := 0, 0
			for i := j; i >= 0 && log[j].at-log[i].at < delivery.DefaultRetryWindow; i-- {
				total++
				if log[i].retry {
					retries++
				}
			}
			allowed := float64(delivery.DefaultRetryFloor) + delivery.DefaultRetryShare*float64(total)
			require.LessOrEqual(t, float64(retries), allowed, "window ending at %v: %d retries of %d requests", log[j].at, retries, total)
			if total >= 50 {
				worst = max(worst, float64(retries)/float64(total))
			}
		}
		st, err := store.Stats(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 8200, st.Count(delivery.StateDelivered), "everything delivered after the outage")
		r := get(t, store, "old-0000")
		assert.Less(t, r.Attempts, 30, "deferrals spent no attempts")
		assert.Positive(t, r.Deferrals, "it waited for the budget")
		t.Logf("%d requests; worst retry share over 10s windows of 50+ requests: %.2f", len(log), worst)
	})
}

// Without a budget the same outage retries every failed record each
// second: the storm the budget prevents (this shows the test can fail).
func TestNoRetryBudgetStorms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		start := time.Now()
		var mu sync.Mutex
		retries := 0
		partner := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if m.Attempt > 1 && time.Since(start) < 10*time.Second {
				retries++
			}
			return http503
		})
		for i := range 1000 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("old-%04d", i), Payload: pl("old")})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 8,
			Policy: retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 1000}})
		_ = d.Run(ctx)
		mu.Lock()
		defer mu.Unlock()
		assert.Greater(t, retries, 5000, "a thousand records retrying each second")
	})
}

func TestRetryBudgetBadConfig(t *testing.T) {
	store := memstore.New(memstore.Config{})
	for _, b := range []delivery.RetryBudget{{Share: -0.1}, {Share: 1.5}, {Window: -time.Second}, {Floor: -1}} {
		_, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: delivery.DelivererFunc(nil), RetryBudget: &b})
		assert.ErrorContains(t, err, "RetryBudget", "%+v", b)
		_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: delivery.DelivererFunc(nil),
			Destinations: map[string]delivery.DestinationConfig{"x": {RetryBudget: &b}}})
		assert.ErrorContains(t, err, "RetryBudget", "%+v", b)
	}
}
