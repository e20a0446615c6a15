package delivery

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Nobody asked for Done: nothing is made, yet Err and context.Cause
// report the deadline once it has passed.
func TestLazyDeadlineErrWithoutDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := newStoreContext(context.Background(), time.Second)
		defer ctx.stop()
		assert.NoError(t, ctx.Err())
		assert.Nil(t, ctx.current(), "no context made before anyone waits")
		d, ok := ctx.Deadline()
		assert.True(t, ok)
		assert.Equal(t, time.Now().Add(time.Second), d)

		time.Sleep(time.Second)
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		assert.ErrorIs(t, context.Cause(ctx), context.DeadlineExceeded)
		select {
		case <-ctx.Done():
		default:
			t.Fatal("Done is not closed after the deadline")
		}
	})
}

// Done closes at the deadline, and a child context ends with it without a
// goroutine of its own.
func TestLazyDeadlineDoneAndChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := newStoreContext(context.Background(), time.Minute)
		defer ctx.stop()
		before := runtime.NumGoroutine()
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		assert.Equal(t, before, runtime.NumGoroutine(), "the child is linked to the deadline without a goroutine")

		start := time.Now()
		<-child.Done()
		assert.Equal(t, time.Minute, time.Since(start))
		assert.ErrorIs(t, child.Err(), context.DeadlineExceeded)
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	})
}

// The parent's cancellation and values come through, made or not, and
// stop cancels a made context.
func TestLazyDeadlineFollowsParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		ctx := newAttemptContext(parent, time.Hour, "c-1")
		assert.Equal(t, "v", ctx.Value(key{}))
		assert.Equal(t, "c-1", CorrelationIDFrom(ctx))
		cancelParent()
		assert.ErrorIs(t, ctx.Err(), context.Canceled, "before Done was asked for")
		<-ctx.Done()
		assert.Equal(t, "v", ctx.Value(key{}))

		made := newStoreContext(context.Background(), time.Hour)
		done := made.Done()
		made.stop()
		<-done
		assert.ErrorIs(t, made.Err(), context.Canceled)
	})
}

// Without a timeout the attempt's context is its parent's: no deadline,
// the parent's Done.
func TestLazyDeadlineZeroIsParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := newAttemptContext(parent, 0, "c")
	defer ctx.stop()
	_, ok := ctx.Deadline()
	assert.False(t, ok)
	assert.Equal(t, parent.Done(), ctx.Done())

	// A parent's earlier deadline wins.
	early, cancelEarly := context.WithTimeout(context.Background(), time.Second)
	defer cancelEarly()
	ctx = newAttemptContext(early, time.Hour, "c")
	defer ctx.stop()
	d, ok := ctx.Deadline()
	require.True(t, ok)
	pd, _ := early.Deadline()
	assert.Equal(t, pd, d)
}
