package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Enqueuers and workers race on a few keys: a key never has two records in
// flight, each key's records are delivered in Seq order (so each
// enqueuer's records in the order it enqueued them), and when everything is
// settled no key bookkeeping is left behind.
func TestPerKeyOrderingUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	store, pool := newStore(t, nil)
	const enqueuers, perEnqueuer, workers = 4, 150, 6
	keys := []string{"k0", "k1", "k2"}

	var (
		mu       sync.Mutex
		inFlight = map[string]string{} // key -> record id
		lastSeq  = map[string]int64{}
		lastI    = map[string]int{} // "key/enqueuer" -> last i delivered
		failures []string
		done     int
	)
	total := enqueuers * perEnqueuer
	var wg sync.WaitGroup
	for g := range enqueuers {
		wg.Go(func() {
			for i := range perEnqueuer {
				key := keys[(g+i)%len(keys)]
				id := fmt.Sprintf("%s/%d/%04d", key, g, i)
				var err error
				if i%3 == 0 {
					// Through a caller transaction, held briefly.
					err = enqueueInTx(ctx, pool, store, delivery.Message{ID: id, Key: key, Payload: []byte(id)})
				} else {
					_, err = store.Enqueue(ctx, delivery.Message{ID: id, Key: key, Payload: []byte(id)})
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
			}
		})
	}
	deadline := time.Now().Add(2 * time.Minute)
	for w := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mu.Lock()
				finished := done == total || len(failures) > 0
				mu.Unlock()
				if finished {
					return
				}
				recs, err := store.Claim(ctx, 4, time.Hour)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				mu.Lock()
				for _, r := range recs {
					if other, busy := inFlight[r.Key]; busy {
						failures = append(failures, fmt.Sprintf("worker %d claimed %s while %s is in flight", w, r.ID, other))
					}
					inFlight[r.Key] = r.ID
					if r.Seq <= lastSeq[r.Key] {
						failures = append(failures, fmt.Sprintf("%s (seq %d) after seq %d", r.ID, r.Seq, lastSeq[r.Key]))
					}
					lastSeq[r.Key] = r.Seq
					var g, i int
					_, _ = fmt.Sscanf(r.ID[len(r.Key)+1:], "%d/%d", &g, &i)
					ki := fmt.Sprintf("%s/%d", r.Key, g)
					if prev, ok := lastI[ki]; ok && i <= prev {
						failures = append(failures, fmt.Sprintf("%s delivered after %s/%04d", r.ID, ki, prev))
					}
					lastI[ki] = i
				}
				mu.Unlock()
				for n, r := range recs {
					mu.Lock()
					delete(inFlight, r.Key)
					mu.Unlock()
					var err error
					switch (n + w) % 5 {
					case 0:
						err = store.DeadLetter(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassPermanent})
					case 1:
						err = store.Discard(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassDiscard})
					default:
						err = store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK}, false)
					}
					mu.Lock()
					if err != nil {
						failures = append(failures, err.Error())
					}
					done++
					mu.Unlock()
				}
				if len(recs) == 0 {
					time.Sleep(2 * time.Millisecond) // idle: let enqueuers and other workers move
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	require.Equal(t, total, done, "every record settled exactly once")

	st, err := store.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Count(delivery.StatePending)+st.Count(delivery.StateInFlight))
	var leftover int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+store.Name()+`_keys`).Scan(&leftover))
	assert.Zero(t, leftover, "a key with no live record keeps no row")
}

func enqueueInTx(ctx context.Context, pool *pgxpool.Pool, store interface {
	EnqueueTx(context.Context, pgx.Tx, ...delivery.Message) ([]delivery.Enqueued, error)
}, m delivery.Message) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := store.EnqueueTx(ctx, tx, m); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
