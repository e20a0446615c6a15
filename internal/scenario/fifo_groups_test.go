package scenario_test

import (
	"context"
	"fmt"
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

// Seed 002, the webhook buffer's FIFO groups: "We have added a grouping ID
// to maintain ordering - i.e. if you use your order_id as the Grouping ID
// then all operations for a given order will remain in-order ... It expects
// a grouping ID to decide which things can be run in parallel or not." The
// lesson: records of one group go one at a time, in order, even when one of
// them has to wait for a retry; different groups go in parallel. 1,000
// records in 40 groups, enqueued interleaved, 16 workers, a partner that
// fails some records once or twice: the partner receives every group in
// order, never two of a group at once, and the groups overlap freely.
func TestGroupsStayInOrderUnderRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const groups, perGroup = 40, 25
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true, Latency: 10 * time.Millisecond,
			Rules: []deliverytest.Rule{
				{Match: func(r *deliverytest.Request) bool { return op(r.IdempotencyKey)%10 == 3 }, Responses: deliverytest.Statuses(503, 503), PerKey: true},
				{Match: func(r *deliverytest.Request) bool { return op(r.IdempotencyKey)%4 == 1 }, Responses: deliverytest.Statuses(503), PerKey: true},
			},
		})
		store := memstore.New(memstore.Config{})
		var msgs []delivery.Message
		for i := range perGroup { // interleaved: order-00 #0, order-01 #0, ..., order-00 #1, ...
			for g := range groups {
				id := fmt.Sprintf("order-%02d-%03d", g, i)
				msgs = append(msgs, delivery.Message{ID: id, Key: fmt.Sprintf("order-%02d", g), Payload: []byte(`{"id":"` + id + `"}`)})
			}
		}
		enqueue(t, store, msgs...)
		rec := deliverytest.NewRecorder(sender(t, partner, partnerClient(t, partner, 16)))
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: rec, Concurrency: 16, PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)

		assert.EqualValues(t, groups*perGroup, stats(t, store).Count(delivery.StateDelivered))
		assert.Equal(t, groups*perGroup, partner.Delivered())
		assert.Zero(t, rec.KeyOverlaps(), "never two records of one group in flight")
		assert.Greater(t, partner.PeakInFlight(), 1, "groups went in parallel")
		var retried int
		for _, c := range rec.Calls() {
			if c.Class == classify.ClassEphemeral {
				retried++
			}
		}
		assert.Greater(t, retried, groups, "retries happened")

		// At the partner, each group's requests come in order: a record is
		// repeated until it is processed, and only then comes the next.
		arrived, processed := map[string][]int{}, map[string][]int{}
		for _, r := range partner.Requests() {
			g := r.IdempotencyKey[:len("order-00")]
			arrived[g] = append(arrived[g], op(r.IdempotencyKey))
			if r.Processed {
				processed[g] = append(processed[g], op(r.IdempotencyKey))
			}
		}
		require.Len(t, arrived, groups)
		for g, ops := range arrived {
			want := 0
			for _, n := range ops {
				require.Contains(t, []int{want, want + 1}, n, "group %s out of order: %v", g, ops)
				want = n
			}
			got := processed[g]
			require.Len(t, got, perGroup, "group %s", g)
			for i, n := range got {
				require.Equal(t, i, n, "group %s processed out of order: %v", g, got)
			}
		}
		t.Logf("%d requests, %d retried, peak %d in flight", partner.Stats().Requests, retried, partner.PeakInFlight())
	})
}

// op returns the record number within its group from an id like
// "order-07-012".
func op(id string) int {
	var g, n int
	_, _ = fmt.Sscanf(id, "order-%d-%d", &g, &n)
	return n
}
