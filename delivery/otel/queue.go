package otel

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/outbound-go/outbound/delivery"
)

// registerQueue registers the queue metrics, read from store.Stats at
// every collection, each query bounded by timeout.
func registerQueue(meter metric.Meter, store delivery.Store, timeout time.Duration) (metric.Registration, error) {
	records, err := meter.Int64ObservableUpDownCounter("outbound.records", metric.WithUnit("{record}"),
		metric.WithDescription("Records in the store by state, from Store.Stats."))
	if err != nil {
		return nil, fmt.Errorf("otel: outbound.records: %w", err)
	}
	oldestPending, err := meter.Float64ObservableGauge("outbound.queue.oldest_pending.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest live (pending or in-flight) record."))
	if err != nil {
		return nil, fmt.Errorf("otel: outbound.queue.oldest_pending.age: %w", err)
	}
	oldestDue, err := meter.Float64ObservableGauge("outbound.queue.oldest_due.age", metric.WithUnit("s"),
		metric.WithDescription("How long the longest-waiting due record has been due."))
	if err != nil {
		return nil, fmt.Errorf("otel: outbound.queue.oldest_due.age: %w", err)
	}
	states := make([]metric.ObserveOption, len(delivery.States))
	for i, s := range delivery.States {
		states[i] = metric.WithAttributeSet(attribute.NewSet(StateKey.String(s.String())))
	}
	reg, err := meter.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		st, err := store.Stats(ctx)
		if err != nil {
			return fmt.Errorf("otel: queue metrics: Store.Stats: %w", err)
		}
		for i, s := range delivery.States {
			obs.ObserveInt64(records, st.Count(s), states[i])
		}
		obs.ObserveFloat64(oldestPending, st.OldestPending.Seconds())
		obs.ObserveFloat64(oldestDue, st.OldestDue.Seconds())
		return nil
	}, records, oldestPending, oldestDue)
	if err != nil {
		return nil, fmt.Errorf("otel: queue metrics: %w", err)
	}
	return reg, nil
}
