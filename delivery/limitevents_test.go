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

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// limitEvents records a dispatcher's destination changes and counts its
// retries deferred by the retry budget.
type limitEvents struct {
	mu        sync.Mutex
	changes   []delivery.DestinationEvent
	deferrals int
}

func (o *limitEvents) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if !e.Attempted && errors.Is(e.Err, delivery.ErrRetryBudget) {
		o.mu.Lock()
		o.deferrals++
		o.mu.Unlock()
	}
}

func (o *limitEvents) ObserveRun(context.Context, delivery.Report) {}

func (o *limitEvents) ObserveDestination(_ context.Context, e delivery.DestinationEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.changes = append(o.changes, e)
}

func (o *limitEvents) of(c delivery.DestinationChange) []delivery.DestinationEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []delivery.DestinationEvent
	for _, e := range o.changes {
		if e.Change == c {
			out = append(out, e)
		}
	}
	return out
}

// Every change of an adaptive concurrency limit is reported with the new
// limit and its cause: growth while the partner keeps up, a cut when it
// queues or refuses; the last one reported is the one in the store.
func TestAdaptiveConcurrencyReportsItsChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for i := range 2000 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		obs := &limitEvents{}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Concurrency: 32, Observer: obs,
			Destinations: map[string]delivery.DestinationConfig{"p": {Deliverer: newCappedPartner(5, 100*time.Millisecond), MaxInFlight: 30, AdaptiveConcurrency: true}}})
		time.Sleep(10 * time.Second)
		cancel()
		wg.Wait()

		changes := obs.of(delivery.DestinationConcurrencyChange)
		require.NotEmpty(t, changes)
		causes := map[string]bool{}
		for _, e := range changes {
			causes[e.Cause] = true
			assert.Equal(t, "p", e.Destination)
			assert.GreaterOrEqual(t, e.InFlight, 1)
			assert.LessOrEqual(t, e.InFlight, 30, "never above the configured MaxInFlight")
			assert.NoError(t, e.StoreErr)
		}
		assert.True(t, causes["growth"], "slow start grows the limit: %v", causes)
		assert.True(t, causes["overload"] || causes["latency"], "a partner of capacity 5 makes it shrink: %v", causes)
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		assert.Equal(t, changes[len(changes)-1].InFlight, ds[0].MaxInFlight, "the last change reported is the fleet's limit")
	})
}

// A spent retry budget is reported once per episode, not once per
// deferred retry, so that a log line per event stays readable.
func TestRetryBudgetExhaustedIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for i := range 300 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		obs := &limitEvents{}
		partner := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return http503 })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 8, Observer: obs,
			Policy:      retry.Policy{Backoff: retry.Constant(time.Second), MaxAttempts: 1000},
			RetryBudget: &delivery.RetryBudget{}})
		_ = d.Run(ctx)

		exhausted := obs.of(delivery.DestinationBudgetExhaustedChange)
		require.NotEmpty(t, exhausted, "the budget ran out")
		for _, e := range exhausted {
			assert.Equal(t, "p", e.Destination)
			assert.Equal(t, "retry_budget", e.Cause)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		assert.Positive(t, obs.deferrals)
		assert.Less(t, len(exhausted)*5, obs.deferrals, "one event per episode, not per deferred retry")
	})
}
