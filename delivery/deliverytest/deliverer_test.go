package deliverytest_test

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
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func TestScript(t *testing.T) {
	boom := errors.New("boom")
	s := deliverytest.NewScript().
		On("a", deliverytest.StatusError(503), nil).
		On("b", classify.Permanent(boom)).
		On("c").
		Otherwise(deliverytest.StatusError(429), nil)
	ctx := context.Background()
	call := func(id string) error { return s.Deliver(ctx, &delivery.Message{ID: id}) }

	assert.Equal(t, 503, classify.Status(call("a")))
	assert.NoError(t, call("a"))
	assert.NoError(t, call("a"), "the last answer repeats")
	for range 3 {
		assert.ErrorIs(t, call("b"), boom)
	}
	assert.NoError(t, call("c"), "no answers: accepted")
	assert.Equal(t, 429, classify.Status(call("x")), "Otherwise, counted per id")
	assert.Equal(t, 429, classify.Status(call("y")))
	assert.NoError(t, call("x"))
	assert.Equal(t, 3, s.Calls("a"))
	assert.Equal(t, 2, s.Calls("x"))
	assert.Zero(t, s.Calls("never"))

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Deliver(canceled, &delivery.Message{ID: "c"}), context.Canceled)
}

func TestScriptTaking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := deliverytest.NewScript().Taking(time.Minute)
		start := time.Now()
		require.NoError(t, s.Deliver(context.Background(), &delivery.Message{ID: "a"}))
		assert.Equal(t, time.Minute, time.Since(start))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		assert.ErrorIs(t, s.Deliver(ctx, &delivery.Message{ID: "a"}), context.DeadlineExceeded)
	})
}

func TestStatusErrorAcceptFail(t *testing.T) {
	assert.NoError(t, deliverytest.StatusError(204))
	for status, want := range map[int]classify.Class{503: classify.ClassEphemeral, 429: classify.ClassEphemeral, 400: classify.ClassPermanent, 409: classify.ClassPermanent} {
		err := deliverytest.StatusError(status)
		assert.Equal(t, want, classify.Of(err), "%d", status)
		assert.Equal(t, status, classify.Status(err))
	}
	ctx := context.Background()
	assert.NoError(t, deliverytest.Accept().Deliver(ctx, &delivery.Message{}))
	boom := errors.New("boom")
	assert.ErrorIs(t, deliverytest.Fail(boom).Deliver(ctx, &delivery.Message{}), boom)
}

func TestRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := deliverytest.NewScript().On("m-1", deliverytest.StatusError(503)).Taking(time.Second)
		rec := deliverytest.NewRecorder(inner)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				m := &delivery.Message{ID: fmt.Sprintf("m-%d", i), Key: fmt.Sprintf("k%d", i%2), Payload: []byte("x"),
					Headers: map[string]string{"H": "v"}}
				_ = rec.Deliver(context.Background(), m)
				m.Payload[0] = 'y' // the recorder kept a copy
				m.Headers["H"] = "changed"
			})
		}
		wg.Wait()
		calls := rec.Calls()
		require.Len(t, calls, 4)
		assert.Equal(t, 4, rec.Count())
		assert.Equal(t, 4, rec.PeakInFlight())
		assert.Equal(t, 2, rec.KeyOverlaps(), "k0 and k1 each had two messages in flight at once")
		for _, c := range calls {
			assert.True(t, c.Done)
			assert.Equal(t, time.Second, c.Duration)
			assert.Equal(t, "x", string(c.Message.Payload))
			assert.Equal(t, "v", c.Message.Headers["H"])
		}
		m1 := rec.CallsFor("m-1")
		require.Len(t, m1, 1)
		assert.Equal(t, classify.ClassEphemeral, m1[0].Class)
		assert.Equal(t, 503, classify.Status(m1[0].Err))
		assert.Len(t, rec.IDs(), 4)

		seq := deliverytest.NewRecorder(nil)
		for _, id := range []string{"a", "b"} {
			require.NoError(t, seq.Deliver(context.Background(), &delivery.Message{ID: id, Key: "same"}))
		}
		assert.Equal(t, []string{"a", "b"}, seq.IDs())
		assert.Zero(t, seq.KeyOverlaps(), "one after the other is no overlap")
		assert.Equal(t, 1, seq.PeakInFlight())
	})
}

func TestObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for _, id := range []string{"ok", "retry", "dead", "gone"} {
			_, err := store.Enqueue(context.Background(), delivery.Message{ID: id, Payload: []byte("{}")})
			require.NoError(t, err)
		}
		s := deliverytest.NewScript().
			On("retry", deliverytest.StatusError(503)).
			On("dead", deliverytest.StatusError(400)).
			On("gone", classify.Discard(errors.New("invalid")))
		var obs deliverytest.Observer
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: s, Observer: &obs})
		require.NoError(t, err)
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)

		assert.Len(t, obs.Runs(), 1)
		assert.Len(t, obs.Events(), 4)
		assert.Equal(t, map[delivery.Action]int{delivery.ActionDelivered: 1, delivery.ActionRetry: 1, delivery.ActionDeadLetter: 1, delivery.ActionDiscard: 1}, obs.Actions())
		assert.Equal(t, map[classify.Class]int{classify.ClassOK: 1, classify.ClassEphemeral: 1, classify.ClassPermanent: 1, classify.ClassDiscard: 1}, obs.Classes())
		assert.Equal(t, map[string]int{"http_503": 1}, obs.Causes(classify.ClassEphemeral))
		assert.Nil(t, obs.Causes(classify.ClassDuplicate))

		var empty deliverytest.Observer
		assert.Empty(t, empty.Events())
		assert.Zero(t, empty.Actions()[delivery.ActionDelivered], "the zero Observer is usable")
	})
}
