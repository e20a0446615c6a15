package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func testNotifyOnInsertOnly(t *testing.T, h *harness) {
	n, ok := h.store.(delivery.Notifier)
	if !ok {
		t.Skip("store does not implement delivery.Notifier (optional)")
	}
	ch := n.Notify()
	drain := func() bool {
		select {
		case <-ch:
			return true
		case <-time.After(2 * time.Second):
			return false
		}
	}
	// quiet absorbs signals that do not come from this test's writes: a
	// store may signal once when its listener (re)connects, for inserts it
	// could have missed. It returns once no signal arrived for 300ms.
	quiet := func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			select {
			case <-ch:
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
		t.Fatal("the store keeps signalling with nothing inserted")
	}
	h.enqueueN("r", "", 1)
	require.True(t, drain(), "an insert signals")
	quiet()

	recs := h.claim(10)
	require.Len(t, recs, 1)
	ok2 := h.attempt(classify.ClassEphemeral, 503, "x")
	require.NoError(t, h.store.Reschedule(h.ctx, recs[0].Lease(), h.clock.Now(), &ok2))
	recs = h.claim(10)
	require.NoError(t, h.store.Complete(h.ctx, recs[0].Lease(), ok2, false))
	select {
	case <-ch:
		t.Fatal("settling records must not signal: a dispatcher would wake itself")
	case <-time.After(200 * time.Millisecond):
	}

	// A new enqueue signals again, and so does an operator's redrive.
	h.enqueueN("s", "", 1)
	assert.True(t, drain())
	quiet()
	recs = h.claim(10)
	require.Len(t, recs, 1)
	require.NoError(t, h.store.DeadLetter(h.ctx, recs[0].Lease(), h.attempt(classify.ClassPermanent, 400, "x")))
	select {
	case <-ch:
		t.Fatal("dead-lettering must not signal")
	case <-time.After(200 * time.Millisecond):
	}
	_, err := h.store.Redrive(h.ctx, recs[0].ID)
	require.NoError(t, err)
	assert.True(t, drain(), "a redrive makes records claimable and signals")
}

func testConcurrentClaim(t *testing.T, h *harness) {
	const n, late, workers = 2000, 200, 8
	msgs := make([]delivery.Message, n)
	keyOf := func(i int) string {
		if i%4 == 0 {
			return fmt.Sprintf("key-%d", i%40)
		}
		return ""
	}
	for i := range msgs {
		id := fmt.Sprintf("c-%05d", i)
		msgs[i] = delivery.Message{ID: id, Key: keyOf(i), Payload: payload(id)}
	}
	for i := 0; i < n; i += 500 {
		h.enqueue(msgs[i : i+500]...)
	}

	var mu sync.Mutex
	claims := map[string]int{}
	inFlight := map[string]string{} // key -> record id in flight
	lastSeq := map[string]int64{}   // key -> Seq of the last record claimed
	var violations []string
	take := func(recs []delivery.Record) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			claims[r.ID]++
			if r.Key == "" {
				continue
			}
			if other, busy := inFlight[r.Key]; busy {
				violations = append(violations, fmt.Sprintf("%s claimed while %s of key %s was in flight", r.ID, other, r.Key))
			}
			if r.Seq <= lastSeq[r.Key] {
				violations = append(violations, fmt.Sprintf("%s (seq %d) claimed after seq %d of key %s", r.ID, r.Seq, lastSeq[r.Key], r.Key))
			}
			inFlight[r.Key], lastSeq[r.Key] = r.ID, r.Seq
		}
	}
	// settle clears the key before completing: the next record of the key
	// cannot be claimed until Complete has been stored.
	settle := func(r delivery.Record) error {
		if r.Key != "" {
			mu.Lock()
			delete(inFlight, r.Key)
			mu.Unlock()
		}
		return h.store.Complete(h.ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false)
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	wg.Go(func() { // more records of the same keys arrive while workers settle
		for i := range late {
			id := fmt.Sprintf("l-%05d", i)
			if _, err := h.store.Enqueue(h.ctx, delivery.Message{ID: id, Key: keyOf(i * 4), Payload: payload(id)}); err != nil {
				errs <- err
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			idle := 0
			for idle < 3 {
				recs, err := h.store.Claim(h.ctx, 16, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if len(recs) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond) // let other workers settle keyed heads
					continue
				}
				idle = 0
				take(recs)
				for _, r := range recs {
					if err := settle(r); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// Records of busy keys may need more rounds than idle workers waited;
	// drain what is left sequentially.
	for {
		recs := h.claim(100)
		if len(recs) == 0 {
			break
		}
		take(recs)
		for _, r := range recs {
			require.NoError(t, settle(r))
		}
	}
	assert.Empty(t, violations, "per-key ordering")
	require.Len(t, claims, n+late, "every record claimed")
	for id, c := range claims {
		require.Equal(t, 1, c, "record %s claimed %d times under unexpired leases", id, c)
	}
	st := h.stats()
	assert.EqualValues(t, n+late, st.Count(delivery.StateDelivered))
	assert.Zero(t, st.Count(delivery.StatePending)+st.Count(delivery.StateInFlight))
}
