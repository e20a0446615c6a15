package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// Instances whose clocks disagree share one outbox safely: leases and due
// times are compared on the database's clock, and a time a host computes
// on its own clock (a retry's next attempt) is stored as its distance from
// that host's now. Before, a host running three minutes ahead took over
// another's live two-minute lease at once (the owner's Complete got
// ErrLeaseLost and the record was sent twice) and claimed retries before
// they were due, and one running behind scheduled its retries in the past.
func TestClockSkewBetweenInstances(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	schema := newSchema(t, pool)
	instance := func(skew time.Duration) *postgres.Store {
		t.Helper()
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		if skew != 0 {
			s.SetCallerClockForTest(func() time.Time { return time.Now().Add(skew) })
		}
		return s
	}
	honest, ahead, behind := instance(0), instance(3*time.Minute), instance(-3*time.Minute)
	require.NoError(t, honest.Migrate(ctx))
	fail := delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassEphemeral, Status: 503, Error: "ephemeral: http 503"}
	claimOne := func(s *postgres.Store, lease time.Duration) delivery.Record {
		t.Helper()
		recs, err := s.Claim(ctx, 10, lease)
		require.NoError(t, err)
		require.Len(t, recs, 1)
		return recs[0]
	}
	assertNothingClaimable := func(s *postgres.Store, why string) {
		t.Helper()
		recs, err := s.Claim(ctx, 10, 2*time.Minute)
		require.NoError(t, err)
		assert.Empty(t, recs, why)
	}

	// A live lease is not taken over by a host running ahead.
	_, err := honest.Enqueue(ctx, delivery.Message{ID: "leased", Payload: []byte("x")})
	require.NoError(t, err)
	leased := claimOne(honest, 2*time.Minute)
	assertNothingClaimable(ahead, "a host three minutes ahead must not take over a live two-minute lease")
	require.NoError(t, honest.Complete(ctx, leased.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 201}, false),
		"the owner keeps its lease")

	// A retry is not claimed before it is due by a host running ahead.
	_, err = honest.Enqueue(ctx, delivery.Message{ID: "retry", Payload: []byte("x")})
	require.NoError(t, err)
	r := claimOne(honest, 2*time.Minute)
	require.NoError(t, honest.Reschedule(ctx, r.Lease(), time.Now().Add(time.Minute), &fail))
	assertNothingClaimable(ahead, "a retry due in a minute must not be claimed by a host three minutes ahead")

	// A host running behind schedules its retries a backoff from now, not
	// in the past.
	_, err = behind.Enqueue(ctx, delivery.Message{ID: "behind", Payload: []byte("x")})
	require.NoError(t, err)
	r = claimOne(behind, 2*time.Minute)
	require.Equal(t, "behind", r.ID)
	require.NoError(t, behind.Reschedule(ctx, r.Lease(), time.Now().Add(-3*time.Minute).Add(time.Minute), &fail))
	assertNothingClaimable(honest, "a retry the host behind scheduled a minute out is not due at once")

	// NextDue answers on each host's own clock: the earliest retry, a
	// minute from the asking host's now.
	for name, s := range map[string]*postgres.Store{"honest": honest, "ahead": ahead, "behind": behind} {
		due, ok, err := s.NextDue(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		skew := map[string]time.Duration{"honest": 0, "ahead": 3 * time.Minute, "behind": -3 * time.Minute}[name]
		assert.WithinDuration(t, time.Now().Add(skew).Add(time.Minute), due, 10*time.Second, "%s: NextDue on its own clock", name)
	}

	// Expired leases are still taken over, whoever claims.
	_, err = honest.Enqueue(ctx, delivery.Message{ID: "crashed", Payload: []byte("x")})
	require.NoError(t, err)
	crashed := claimOne(honest, time.Microsecond) // expired by the next statement
	takeover := claimOne(ahead, 2*time.Minute)
	assert.Equal(t, "crashed", takeover.ID)
	assert.ErrorIs(t, honest.Complete(ctx, crashed.Lease(), delivery.Attempt{Class: classify.ClassOK}, false), delivery.ErrLeaseLost)
	require.NoError(t, ahead.Complete(ctx, takeover.Lease(), delivery.Attempt{Class: classify.ClassOK}, false))

	// Stats' ages are the database's: nothing has waited three minutes.
	st, err := ahead.Stats(ctx)
	require.NoError(t, err)
	assert.Less(t, st.OldestPending, time.Minute, "ages measured on the database's clock")
	assert.Zero(t, st.OldestDue)
}
