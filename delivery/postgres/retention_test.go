package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// settleAll enqueues n records and settles every one: delivered, except
// every fifth dead-lettered and every seventh discarded.
func settleAll(t *testing.T, s delivery.Store, prefix string, n int) {
	t.Helper()
	ctx := context.Background()
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		msgs[i] = delivery.Message{ID: fmt.Sprintf("%s-%03d", prefix, i), Payload: []byte("x")}
	}
	_, err := s.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	recs, err := s.Claim(ctx, n, time.Hour)
	require.NoError(t, err)
	require.Len(t, recs, n)
	for i, r := range recs {
		switch {
		case i%5 == 0:
			require.NoError(t, s.DeadLetter(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassPermanent}))
		case i%7 == 0:
			require.NoError(t, s.Discard(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassDiscard}))
		default:
			require.NoError(t, s.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK}, false))
		}
	}
}

// Retention runs on its interval and deletes, in batches, what is older
// than MaxAge; dead records stay.
func TestRetentionRunsPeriodically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		settleAll(t, store, "old", 20) // 4 dead, 16 delivered or discarded
		time.Sleep(12 * time.Hour)
		settleAll(t, store, "new", 10) // 2 dead

		var errs []error
		r, err := postgres.NewRetention(postgres.RetentionConfig{
			Store: store, MaxAge: 24 * time.Hour, Interval: time.Hour, BatchSize: 3,
			OnError: func(err error) { errs = append(errs, err) },
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()

		synctest.Wait()
		assert.EqualValues(t, 30, total(t, store), "nothing is 24h old yet")
		time.Sleep(13*time.Hour + time.Minute) // rounds on the hour; the first with old records past 24h is at +25h
		synctest.Wait()
		assert.EqualValues(t, 14, total(t, store), "the old batch went at the first round after it aged")
		time.Sleep(12 * time.Hour)
		synctest.Wait()
		assert.EqualValues(t, 6, total(t, store), "only dead records remain")
		st, _ := store.Stats(context.Background())
		assert.EqualValues(t, 6, st.Count(delivery.StateDead))

		cancel()
		require.NoError(t, <-done, "a cancelled context is how Run is stopped, not an error")
		assert.Empty(t, errs)
	})
}

func total(t *testing.T, s delivery.Store) int64 {
	t.Helper()
	st, err := s.Stats(context.Background())
	require.NoError(t, err)
	var n int64
	for _, c := range st.Counts {
		n += c
	}
	return n
}

type failingPurger struct{ calls int }

func (f *failingPurger) Purge(context.Context, time.Time, int) (int, error) {
	f.calls++
	return 0, errors.New("database unreachable")
}

// A failed round is reported and retried at the next interval.
func TestRetentionReportsErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &failingPurger{}
		var errs []error
		r, err := postgres.NewRetention(postgres.RetentionConfig{
			Store: p, MaxAge: time.Hour, Interval: time.Minute,
			OnError: func(err error) { errs = append(errs, err) },
		})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		require.NoError(t, r.Run(ctx), "failed rounds are reported, and Run ends with nil when ctx does")
		assert.Equal(t, 3, p.calls, "at 0, 1m and 2m")
		require.Len(t, errs, 3)
		assert.ErrorContains(t, errs[0], "postgres: retention: database unreachable")
	})
}

// blockingPurger's Purge waits for its context to end.
type blockingPurger struct{ started chan struct{} }

func (b blockingPurger) Purge(ctx context.Context, _ time.Time, _ int) (int, error) {
	close(b.started)
	<-ctx.Done()
	return 0, ctx.Err()
}

// Ending ctx stops Run with nil, even in the middle of a round, and the
// interrupted round is not reported as a failure.
func TestRetentionRunEndsWithNilWhenCtxEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := blockingPurger{started: make(chan struct{})}
		var errs []error
		r, err := postgres.NewRetention(postgres.RetentionConfig{
			Store: p, MaxAge: time.Hour, OnError: func(err error) { errs = append(errs, err) },
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		<-p.started
		cancel()
		require.NoError(t, <-done)
		assert.Empty(t, errs, "a round cut short by the end of ctx is not an error")
	})
}

func TestNewRetentionValidates(t *testing.T) {
	store := memstore.New(memstore.Config{})
	for _, tc := range []struct {
		cfg   postgres.RetentionConfig
		field string
	}{
		{postgres.RetentionConfig{MaxAge: time.Hour}, "Store"},
		{postgres.RetentionConfig{Store: store}, "MaxAge"},
		{postgres.RetentionConfig{Store: store, MaxAge: time.Hour, Interval: -1}, "Interval"},
		{postgres.RetentionConfig{Store: store, MaxAge: time.Hour, BatchSize: -1}, "BatchSize"},
	} {
		_, err := postgres.NewRetention(tc.cfg)
		require.ErrorIs(t, err, postgres.ErrConfig)
		assert.Contains(t, err.Error(), tc.field)
	}
}

// Against the real table: PurgeOnce deletes every old delivered and
// discarded row in bounded batches and leaves dead and young rows.
func TestRetentionPurgesPostgresInBatches(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store, _ := newStore(t, func() time.Time { return now })
	settleAll(t, store, "old", 100) // 20 dead, 80 gone after the purge
	now = now.Add(48 * time.Hour)
	settleAll(t, store, "new", 10)

	calls := 0
	counting := purgeFunc(func(ctx context.Context, before time.Time, limit int) (int, error) {
		calls++
		return store.Purge(ctx, before, limit)
	})
	r, err := postgres.NewRetention(postgres.RetentionConfig{
		Store: counting, MaxAge: 24 * time.Hour, BatchSize: 25, Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	n, err := r.PurgeOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, 80, n)
	assert.Equal(t, 4, calls, "25+25+25+5")
	st, err := store.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 22, st.Count(delivery.StateDead))
	assert.EqualValues(t, 8, st.Count(delivery.StateDelivered)+st.Count(delivery.StateDiscarded))
}

type purgeFunc func(ctx context.Context, before time.Time, limit int) (int, error)

func (f purgeFunc) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	return f(ctx, before, limit)
}
