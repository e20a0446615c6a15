package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

type userKey struct{}

// The context a Deliverer gets from the Dispatcher carries the attempt's
// correlation id, its response recorder, the caller's own values and the
// attempt deadline, and a correlation id the Deliverer sets on top of it
// wins over the attempt's.
func TestAttemptContextCarriesTheAttempt(t *testing.T) {
	ctx := context.WithValue(t.Context(), userKey{}, "mine")
	store := memstore.New(memstore.Config{})
	_, err := store.Enqueue(ctx, delivery.Message{ID: "m1", Payload: []byte(`{}`)})
	require.NoError(t, err)

	var seen struct {
		correlation, inner, user string
		hasDeadline, records     bool
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store:          store,
		AttemptTimeout: time.Minute,
		Deliverer: delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			seen.correlation = delivery.CorrelationIDFrom(ctx)
			seen.inner = delivery.CorrelationIDFrom(delivery.WithCorrelationID(ctx, "inner"))
			seen.user, _ = ctx.Value(userKey{}).(string)
			_, seen.hasDeadline = ctx.Deadline()
			seen.records = delivery.RecordsResponse(ctx)
			delivery.ReportResponse(ctx, 201, []byte(`{"id":"r-7"}`))
			return nil
		}),
	})
	require.NoError(t, err)
	rep, err := d.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Delivered)

	assert.Equal(t, "m1", seen.correlation, "the message's id stands in for its correlation id")
	assert.Equal(t, "inner", seen.inner)
	assert.Equal(t, "mine", seen.user, "the caller's values reach the Deliverer")
	assert.True(t, seen.hasDeadline, "AttemptTimeout is the context's deadline")
	assert.True(t, seen.records)
	rec, err := store.Get(ctx, "m1")
	require.NoError(t, err)
	assert.Equal(t, 201, rec.LastAttempt.Status)
	assert.Equal(t, `{"id":"r-7"}`, rec.LastAttempt.Response)
}

// Outside an attempt, the correlation id is the one WithCorrelationID set,
// or none.
func TestCorrelationIDFromOutsideAnAttempt(t *testing.T) {
	assert.Empty(t, delivery.CorrelationIDFrom(t.Context()))
	assert.Equal(t, "c-1", delivery.CorrelationIDFrom(delivery.WithCorrelationID(t.Context(), "c-1")))
	assert.False(t, delivery.RecordsResponse(t.Context()))
}
