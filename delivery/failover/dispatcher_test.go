package failover_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failover"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// attemptLog is a delivery.Observer keeping the attempts' errors.
type attemptLog struct {
	mu     sync.Mutex
	events []delivery.AttemptEvent
}

func (l *attemptLog) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *attemptLog) ObserveRun(context.Context, delivery.Report) {}

// TestDispatcherThroughAFailoverSet: records drained through a set whose
// channels are all down wait without spending attempts (the destination is
// paused), the error naming every channel; when the backup comes up they are
// delivered; a 400 on the active channel is dead-lettered, not moved,
// with the channel's name in the stored error.
func TestDispatcherThroughAFailoverSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		backupUp := false
		down := func(name string) delivery.Gate {
			return delivery.GateFunc(func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				if name == "backup" && backupUp {
					return nil
				}
				return classify.WithRetryAfter(classify.Unavailable(fmt.Errorf("%s is down", name)), time.Minute)
			})
		}
		primary, backup := &fakeChannel{}, &fakeChannel{}
		set := newSet(t, failover.Config{Channels: []failover.Channel{
			{Name: "primary", Deliverer: primary, Gate: down("primary")},
			{Name: "backup", Deliverer: backup, Gate: down("backup")},
		}})
		store := memstore.New(memstore.Config{})
		var obs attemptLog
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: set, Observer: &obs})
		require.NoError(t, err)
		for i := range 5 {
			_, err := store.Enqueue(t.Context(), delivery.Message{ID: fmt.Sprint("rec-", i), Payload: []byte("{}")})
			require.NoError(t, err)
		}
		rep, err := d.RunOnce(t.Context())
		require.NoError(t, err)
		// Every channel down: the set is Unavailable, so the dispatcher
		// pauses its destination; what it had claimed waits, the rest is
		// not claimed, and no attempt is spent.
		assert.Positive(t, rep.Deferred)
		assert.Equal(t, rep.Claimed, rep.Deferred, "every channel down: deferred, no attempt spent")
		st, err := store.Stats(t.Context())
		require.NoError(t, err)
		assert.EqualValues(t, 5, st.Count(delivery.StatePending))
		rec, err := store.Get(t.Context(), "rec-0")
		require.NoError(t, err)
		assert.Zero(t, rec.Attempts)
		require.NotEmpty(t, obs.events)
		assert.Equal(t, delivery.ActionDefer, obs.events[0].Action)
		assert.ErrorContains(t, obs.events[0].Err, `failover: every channel is unusable: "primary": `)
		assert.ErrorContains(t, obs.events[0].Err, `"backup": `)
		assert.Equal(t, "backup", failover.ChannelOf(obs.events[0].Err))

		mu.Lock()
		backupUp = true
		mu.Unlock()
		time.Sleep(time.Minute)
		rep, err = d.RunOnce(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 5, rep.Delivered)
		assert.Equal(t, 5, backup.count())
		assert.Zero(t, primary.count())

		// A 400 on the active channel is the record's fault.
		backup.set(func() error { return &classify.Error{Class: classify.ClassPermanent, Status: 400} })
		_, err = store.Enqueue(t.Context(), delivery.Message{ID: "bad", Payload: []byte("{}")})
		require.NoError(t, err)
		rep, err = d.RunOnce(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, rep.DeadLettered)
		rec, err = store.Get(t.Context(), "bad")
		require.NoError(t, err)
		assert.Equal(t, `failover: channel "backup": permanent: http 400 Bad Request`, rec.LastAttempt.Error)
		assert.Equal(t, 400, rec.LastAttempt.Status)
	})
}

// TestHistoryNamesTheChannels: a record whose first attempt the primary
// answered with a 503, and whose second found the primary unusable
// (connection refused) and went to the backup, has a history naming both
// channels, the second on LastAttempt too.
func TestHistoryNamesTheChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary, backup := &fakeChannel{}, &fakeChannel{}
		primary.set(func() error { return &classify.Error{Class: classify.ClassEphemeral, Status: 503} })
		set := newSet(t, failover.Config{Channels: []failover.Channel{
			{Name: "primary", Deliverer: primary},
			{Name: "backup", Deliverer: backup},
		}})
		store := memstore.New(memstore.Config{})
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: set})
		require.NoError(t, err)
		_, err = store.Enqueue(t.Context(), delivery.Message{ID: "rec", Payload: []byte("{}")})
		require.NoError(t, err)

		rep, err := d.RunOnce(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Retried, "a 503 is the partner's answer: retried, not moved")
		primary.set(refused)
		time.Sleep(time.Hour)
		rep, err = d.RunOnce(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Delivered)

		rec, err := store.Get(t.Context(), "rec")
		require.NoError(t, err)
		require.Len(t, rec.History, 2)
		assert.Equal(t, "primary", rec.History[0].Channel)
		assert.Equal(t, 503, rec.History[0].Status)
		assert.Equal(t, "backup", rec.History[1].Channel, "the primary was unusable: the backup carried it")
		assert.Equal(t, classify.ClassOK, rec.History[1].Class)
		assert.Equal(t, "backup", rec.LastAttempt.Channel)
		assert.Equal(t, []int{2, 1}, []int{primary.count(), backup.count()})
	})
}
