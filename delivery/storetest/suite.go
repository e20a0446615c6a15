package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Factory returns a new, empty store that reads the time only from now.
type Factory func(t *testing.T, now func() time.Time) delivery.Store

// Run runs the whole conformance suite against stores made by newStore,
// each subtest with a fresh store and clock.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"EnqueueAndGet", testEnqueueAndGet},
		{"EnqueueIdempotent", testEnqueueIdempotent},
		{"EnqueueIdempotentPerDestination", testEnqueueIdempotentPerDestination},
		{"EnqueueConflict", testEnqueueConflict},
		{"EnqueueRejectsBadInput", testEnqueueRejectsBadInput},
		{"EnqueueCorrelationFromContext", testEnqueueCorrelationFromContext},
		{"ClaimOldestDueFirst", testClaimOldestDueFirst},
		{"ClaimRejectsBadInput", testClaimRejectsBadInput},
		{"PerKeyOrdering", testPerKeyOrdering},
		{"LeaseExpiryAndFencing", testLeaseExpiryAndFencing},
		{"SettleTransitions", testSettleTransitions},
		{"SettleRejectsStaleAndUnknown", testSettleRejectsStaleAndUnknown},
		{"Redrive", testRedrive},
		{"RedriveMatching", testRedriveMatching},
		{"ListPaging", testListPaging},
		{"ListFilters", testListFilters},
		{"Stats", testStats},
		{"Purge", testPurge},
		{"NotifyOnInsertOnly", testNotifyOnInsertOnly},
		{"NextDue", testNextDue},
		{"ConcurrentClaim", testConcurrentClaim},
		{"DestinationPause", testDestinationPause},
		{"DestinationPauseNeverShortens", testDestinationPauseNeverShortens},
		{"DestinationPauseLength", testDestinationPauseLength},
		{"DestinationDisable", testDestinationDisable},
		{"DestinationBadInput", testDestinationBadInput},
		{"DestinationMaxInFlight", testDestinationMaxInFlight},
		{"DestinationMaxInFlightConcurrent", testDestinationMaxInFlightConcurrent},
		{"DestinationFairClaim", testDestinationFairClaim},
		{"PerKeyOrderingPerDestination", testPerKeyOrderingPerDestination},
		{"DestinationFigures", testDestinationFigures},
		{"CancelAndRetryNow", testCancelAndRetryNow},
		{"ListByDestination", testListByDestination},
		{"NextDueSeesPauses", testNextDueSeesPauses},
		{"TraceContext", testTraceContext},
		{"RateBurst", testRateBurst},
		{"RateChange", testRateChange},
		{"RateNextDue", testRateNextDue},
		{"RateBadInput", testRateBadInput},
		{"RateConcurrent", testRateConcurrent},
		{"HistoryInOrder", testHistoryInOrder},
		{"HistoryBounded", testHistoryBounded},
		{"HistorySurvivesRedrive", testHistorySurvivesRedrive},
		{"HistoryKeepsChannel", testHistoryKeepsChannel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &Clock{}
			h := &harness{t: t, clock: clock, ctx: context.Background()}
			h.store = newStore(t, clock.Now)
			tc.fn(t, h)
		})
	}
}

// harness bundles a store under test with its clock.
type harness struct {
	t     *testing.T
	store delivery.Store
	clock *Clock
	ctx   context.Context
}

func payload(id string) []byte { return []byte(`{"id":"` + id + `"}`) }

// enqueue stores messages and returns their records, failing the test on
// error.
func (h *harness) enqueue(msgs ...delivery.Message) []delivery.Record {
	h.t.Helper()
	res, err := h.store.Enqueue(h.ctx, msgs...)
	require.NoError(h.t, err)
	require.Len(h.t, res, len(msgs))
	out := make([]delivery.Record, len(res))
	for i, r := range res {
		out[i] = r.Record
	}
	return out
}

// enqueueN stores n messages with ids prefix-0..prefix-(n-1), each a
// millisecond after the previous, and the given key.
func (h *harness) enqueueN(prefix, key string, n int) []delivery.Record {
	h.t.Helper()
	out := make([]delivery.Record, 0, n)
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		out = append(out, h.enqueue(delivery.Message{ID: id, Key: key, Payload: payload(id)})...)
		h.clock.Advance(time.Millisecond)
	}
	return out
}

func (h *harness) claim(limit int) []delivery.Record {
	h.t.Helper()
	recs, err := h.store.Claim(h.ctx, limit, time.Minute)
	require.NoError(h.t, err)
	return recs
}

func (h *harness) get(id string) delivery.Record {
	h.t.Helper()
	r, err := h.store.Get(h.ctx, id)
	require.NoError(h.t, err)
	return r
}

func (h *harness) stats() delivery.Stats {
	h.t.Helper()
	st, err := h.store.Stats(h.ctx)
	require.NoError(h.t, err)
	return st
}

func (h *harness) attempt(class classify.Class, status int, text string) delivery.Attempt {
	return delivery.Attempt{StartedAt: h.clock.Now(), Duration: 150 * time.Millisecond, Status: status, Class: class, Error: text}
}

func ids(recs []delivery.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// sameTime asserts two times are equal to the microsecond (the precision of
// common databases).
func sameTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, want.Truncate(time.Microsecond).Equal(got.Truncate(time.Microsecond)),
		"%s: want %v, got %v", what, want, got)
}
