package scenario_test

import (
	"context"
	"net/http"
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

// Seed 000 §7, special error cases: "straight up invalid records; the
// candidate hadn't actually completed the assessment; we had already sent
// data but had not marked it as processed ... Previously, if we sent an
// invalid request of any kind, it would return a 500 error to us. For
// complete invalid records, this meant just deleting them. Whilst for
// duplicate submissions, we marked them as processed." The lesson: classify
// each answer and handle it as what it means. The partner signals invalid
// records and duplicates in the body and an incomplete candidate with 412;
// the rules map them to Discard and Duplicate; a plain 500 is retried.
func TestSpecialErrorCasesEachHandledByClass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true,
			Rules: []deliverytest.Rule{
				{KeyPrefix: "invalid-", Responses: []deliverytest.Response{deliverytest.InvalidRecord("candidate has no email")}, Repeat: true},
				{KeyPrefix: "incomplete-", Responses: []deliverytest.Response{{
					Status: http.StatusPreconditionFailed, Body: `{"error":"candidate has not completed the assessment"}`,
				}}, Repeat: true},
				{KeyPrefix: "sent-", Responses: []deliverytest.Response{deliverytest.AlreadyProcessed()}, Repeat: true},
				{KeyPrefix: "flaky-", Responses: deliverytest.Statuses(http.StatusInternalServerError), PerKey: true},
			},
		})
		store := memstore.New(memstore.Config{})
		groups := map[string]int{"ok": 150, "invalid": 10, "incomplete": 10, "sent": 10, "flaky": 20}
		for prefix, n := range groups {
			enqueue(t, store, backlog(prefix, n, nil)...)
		}
		var obs deliverytest.Observer
		d := newDispatcher(t, delivery.DispatcherConfig{
			Store: store, Deliverer: sender(t, partner, partnerClient(t, partner, 4)), Concurrency: 4, MaxPerRun: 1000, Observer: &obs,
		})

		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 200, rep.Claimed)
		assert.Equal(t, 150, rep.Delivered)
		assert.Equal(t, 20, rep.Discarded, "invalid and incomplete records are dropped")
		assert.Equal(t, 10, rep.Duplicates, "already-sent records count as delivered")
		assert.Equal(t, 20, rep.Retried, "a plain 500 is retried")
		assert.Zero(t, rep.DeadLettered)

		for _, id := range []string{"invalid-00000", "invalid-00009"} {
			r := record(t, store, id)
			assert.Equal(t, delivery.StateDiscarded, r.State)
			assert.Equal(t, classify.ClassDiscard, r.LastAttempt.Class)
			assert.Contains(t, r.LastAttempt.Error, "candidate has no email", "the reason is kept")
		}
		r := record(t, store, "incomplete-00003")
		assert.Equal(t, delivery.StateDiscarded, r.State)
		assert.Contains(t, r.LastAttempt.Error, "not completed the assessment")
		r = record(t, store, "sent-00004")
		assert.Equal(t, delivery.StateDelivered, r.State)
		assert.True(t, r.Duplicate, "flagged as a duplicate")
		r = record(t, store, "flaky-00007")
		assert.Equal(t, delivery.StatePending, r.State)
		assert.Equal(t, 1, r.Attempts)
		assert.Equal(t, http.StatusInternalServerError, r.LastAttempt.Status)
		assert.Equal(t, start.Add(time.Minute), r.NextAttemptAt, "retried after the first backoff step")

		time.Sleep(time.Minute)
		drain(t, d)
		time.Sleep(24 * time.Hour)
		drain(t, d)

		st := stats(t, store)
		assert.Zero(t, st.Count(delivery.StatePending)+st.Count(delivery.StateInFlight), "down to 0 unprocessed records")
		assert.EqualValues(t, 180, st.Count(delivery.StateDelivered))
		assert.EqualValues(t, 20, st.Count(delivery.StateDiscarded))
		assert.Equal(t, 2, record(t, store, "flaky-00007").Attempts)
		for _, id := range []string{"invalid-00000", "incomplete-00000", "sent-00000"} {
			assert.Len(t, partner.RequestsFor(id), 1, "%s was sent once and never again", id)
		}
		assert.Equal(t, map[string]int{"http_500": 20}, obs.Causes(classify.ClassEphemeral))
		assert.Equal(t, 180, partner.Delivered(), "the partner holds every valid record")
	})
}
