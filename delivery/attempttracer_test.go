package delivery_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

type tracerKey struct{}

// tracingObserver marks each attempt's context with the message's id and
// attempt number, and records what reached the deliverer and the observer.
type tracingObserver struct {
	recordingObserver
	name   string
	panics bool
	mu     sync.Mutex
	traced []string // message id/attempt, per TraceAttempt call
}

func (o *tracingObserver) TraceAttempt(ctx context.Context, m *delivery.Message) context.Context {
	o.mu.Lock()
	o.traced = append(o.traced, m.ID)
	o.mu.Unlock()
	if o.panics {
		panic("tracer bug")
	}
	prev, _ := ctx.Value(tracerKey{}).(string)
	return context.WithValue(ctx, tracerKey{}, prev+o.name+":"+m.ID+"/"+m.TraceParent)
}

// ctxDeliverer records the tracer mark of each attempt's context.
type ctxDeliverer struct {
	mu    sync.Mutex
	marks []string
	err   error
}

func (d *ctxDeliverer) Deliver(ctx context.Context, _ *delivery.Message) error {
	mark, _ := ctx.Value(tracerKey{}).(string)
	d.mu.Lock()
	d.marks = append(d.marks, mark)
	d.mu.Unlock()
	return d.err
}

// The Observer's TraceAttempt gives each attempt its context: the
// deliverer runs with it and ObserveAttempt receives it, with the
// message's stored trace context at hand.
func TestAttemptTracerWrapsEachAttempt(t *testing.T) {
	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a"), TraceParent: tp1})
	obs := &tracingObserver{name: "t"}
	dl := &ctxDeliverer{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: dl, Observer: obs})
	rep, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Delivered)
	assert.Equal(t, []string{"t:a/" + tp1}, dl.marks, "the deliverer runs in the traced context")
	ev := obs.events()
	require.Len(t, ev, 1)
	require.NotNil(t, ev[0].AttemptContext)
	assert.Equal(t, "t:a/"+tp1, ev[0].AttemptContext.Value(tracerKey{}), "ObserveAttempt gets the attempt's context")
}

// A record that is not attempted (its destination's gate is closed) is not
// traced, and its event has no AttemptContext; an Observer that is no
// AttemptTracer gets none either.
func TestAttemptTracerOnlyForAttempts(t *testing.T) {
	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
	obs := &tracingObserver{name: "t"}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: &ctxDeliverer{}, Observer: obs,
		Gate: delivery.GateFunc(func(context.Context) error { return errors.New("down") })})
	_, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	ev := obs.events()
	require.Len(t, ev, 1)
	assert.Equal(t, delivery.ActionDefer, ev[0].Action)
	assert.Nil(t, ev[0].AttemptContext)
	assert.Empty(t, obs.traced)

	store = memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "b", Payload: pl("b")})
	plain := &recordingObserver{}
	d = newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: &ctxDeliverer{}, Observer: plain})
	_, err = d.RunOnce(context.Background())
	require.NoError(t, err)
	require.Len(t, plain.events(), 1)
	assert.Nil(t, plain.events()[0].AttemptContext)
}

// Observers chains the tracers among its observers in order, and is no
// AttemptTracer when none of them is.
func TestObserversChainTracers(t *testing.T) {
	_, ok := delivery.Observers(&recordingObserver{}, &recordingObserver{}).(delivery.AttemptTracer)
	assert.False(t, ok, "no tracer among them: nothing to call per attempt")

	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
	first, second, plain := &tracingObserver{name: "1"}, &tracingObserver{name: "2"}, &recordingObserver{}
	dl := &ctxDeliverer{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: dl,
		Observer: delivery.Observers(first, plain, second)})
	_, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"1:a/2:a/"}, dl.marks, "each tracer wraps the context the one before returned")
	require.Len(t, plain.events(), 1)
	assert.Equal(t, "1:a/2:a/", plain.events()[0].AttemptContext.Value(tracerKey{}), "every observer sees the traced context")
}

// A panicking TraceAttempt is contained like any observer panic: the
// attempt goes on (with the context it had, or the other tracers'), and
// the panic is counted and logged.
func TestPanickingAttemptTracer(t *testing.T) {
	for _, tc := range []struct {
		name string
		obs  func() (delivery.Observer, *tracingObserver)
		mark string
	}{
		{"alone", func() (delivery.Observer, *tracingObserver) {
			o := &tracingObserver{name: "p", panics: true}
			return o, o
		}, ""},
		{"among others", func() (delivery.Observer, *tracingObserver) {
			good := &tracingObserver{name: "g"}
			return delivery.Observers(&tracingObserver{name: "p", panics: true}, good), good
		}, "g:a/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := captureDefaultLog(t)
			store := memstore.New(memstore.Config{})
			enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
			obs, events := tc.obs()
			dl := &ctxDeliverer{}
			d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: dl, Observer: obs})
			var rep delivery.Report
			require.NotPanics(t, func() { rep, _ = d.RunOnce(context.Background()) })
			assert.Equal(t, 1, rep.Delivered, "the attempt was made")
			assert.Equal(t, 1, rep.ObserverPanics)
			assert.Equal(t, []string{tc.mark}, dl.marks)
			assert.Equal(t, delivery.StateDelivered, get(t, store, "a").State)
			require.Len(t, events.events(), 1, "ObserveAttempt still called")
			assert.Contains(t, log.String(), "TraceAttempt")
		})
	}
}
