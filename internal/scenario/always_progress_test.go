package scenario_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 003, always make progress: "if we hit an ephemeral error, say a
// network timeout, while retrieving the comments for the 999th pull
// request, when the job retries we will start all over and make another
// 1000 api calls ... always track and make progress in your expensive
// jobs." The lesson: each record's outcome is written as it completes, so a
// crash repeats only what was in flight, and those repeats carry the same
// Idempotency-Key (at most two per worker: one in its attempt, one whose
// outcome was being written). A process crashes (its store writes and sends stop dead)
// the moment the partner receives record 999 of 1,000; once the crashed
// leases expire a fresh process finishes the job.
func TestCrashResendsOnlyWhatWasInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const records, workers = 1000, 8
		var first *process
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
			InMemory: true, Latency: 10 * time.Millisecond,
			Idempotent: true, // resends are answered "already processed"
			Respond: func(r *deliverytest.Request) (deliverytest.Response, bool) {
				if r.IdempotencyKey == "pr-00998" {
					first.crash() // record 999 arrives: the process dies; the partner still does the work
				}
				return deliverytest.Response{}, false
			},
		})
		store := memstore.New(memstore.Config{})
		enqueue(t, store, backlog("pr", records, nil)...)
		client := partnerClient(t, partner, workers)

		first = newProcess(t, store, sender(t, partner, client), workers)
		err := first.drain()
		require.ErrorIs(t, err, errCrashed, "the first process died")
		inFlight, err := store.List(context.Background(), delivery.ListOptions{State: delivery.StateInFlight})
		require.NoError(t, err)
		assert.EqualValues(t, records-len(inFlight.Records), stats(t, store).Count(delivery.StateDelivered)+stats(t, store).Count(delivery.StatePending),
			"everything not in flight was either recorded as delivered or never claimed")

		time.Sleep(3 * time.Minute) // the dead process's leases expire
		second := newProcess(t, store, sender(t, partner, client), workers)
		require.NoError(t, second.drain())

		assert.EqualValues(t, records, stats(t, store).Count(delivery.StateDelivered))
		assert.Equal(t, records, partner.Delivered())
		assert.Empty(t, partner.Reprocessed(), "the same Idempotency-Key made every resend harmless")
		held := map[string]bool{}
		for _, r := range inFlight.Records {
			held[r.ID] = true
		}
		resent := 0
		for i, m := range backlog("pr", records, nil) {
			n := len(partner.RequestsFor(m.ID))
			switch {
			case n > 1:
				resent++
				require.True(t, held[m.ID], "%s was re-sent but was not in flight at the crash", m.ID)
				require.Equal(t, 2, n, "%s", m.ID)
			case i < records-2*workers:
				require.Equal(t, 1, n, "%s: finished work is never repeated", m.ID)
			}
		}
		assert.Positive(t, resent, "the crash did cut off work in progress")
		assert.LessOrEqual(t, resent, len(inFlight.Records))
		// A worker starts its next attempt while a writer records the
		// outcome of its last one, so each worker can have two records sent
		// and not yet recorded: the one in its attempt, and the one whose
		// outcome was being written.
		assert.LessOrEqual(t, resent, 2*workers, "at most two records per worker were sent and not yet recorded")
		assert.Equal(t, records+resent, partner.Stats().Requests)
		t.Logf("crash at record 999: %d records in flight, %d re-sent, %d requests in all", len(inFlight.Records), resent, partner.Stats().Requests)
	})
}

var errCrashed = errors.New("process crashed")

// process is one instance of the service. After crash its store calls and
// its sends fail at once and change nothing, as if the process had died:
// whatever it had claimed stays in flight until the lease expires.
type process struct {
	dispatcher *delivery.Dispatcher
	crashed    atomic.Bool
}

func newProcess(t *testing.T, store delivery.Store, send delivery.Deliverer, workers int) *process {
	p := &process{}
	p.dispatcher = newDispatcher(t, delivery.DispatcherConfig{
		Store:       &crashableStore{Store: store, p: p},
		Deliverer:   delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error { return p.deliver(ctx, send, m) }),
		Concurrency: workers,
		MaxPerRun:   250,
	})
	return p
}

func (p *process) crash() { p.crashed.Store(true) }

func (p *process) deliver(ctx context.Context, send delivery.Deliverer, m *delivery.Message) error {
	if p.crashed.Load() {
		return errCrashed
	}
	return send.Deliver(ctx, m)
}

// drain runs the process until it finds no work, or until it has crashed.
func (p *process) drain() error {
	for {
		rep, err := p.dispatcher.RunOnce(context.Background())
		if p.crashed.Load() {
			return errCrashed
		}
		if err != nil || rep.Claimed == 0 {
			return err
		}
	}
}

// crashableStore is the process's view of the shared store.
type crashableStore struct {
	delivery.Store
	p *process
}

func (s *crashableStore) alive() error {
	if s.p.crashed.Load() {
		return errCrashed
	}
	return nil
}

func (s *crashableStore) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	return s.Store.Claim(ctx, limit, lease, skip...)
}

func (s *crashableStore) Complete(ctx context.Context, l delivery.Lease, a delivery.Attempt, dup bool) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.Complete(ctx, l, a, dup)
}

func (s *crashableStore) Reschedule(ctx context.Context, l delivery.Lease, next time.Time, a *delivery.Attempt) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.Reschedule(ctx, l, next, a)
}

func (s *crashableStore) DeadLetter(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.DeadLetter(ctx, l, a)
}

func (s *crashableStore) Discard(ctx context.Context, l delivery.Lease, a delivery.Attempt) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.Discard(ctx, l, a)
}

func (s *crashableStore) Release(ctx context.Context, l delivery.Lease) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.Store.Release(ctx, l)
}
