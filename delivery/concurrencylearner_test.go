package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// cappedPartner serves capacity requests at once in service time each;
// up to capacity more wait in its queue, and beyond that it answers 503.
// It keeps its accepted answers' times and samples its requests in flight.
type cappedPartner struct {
	slots   chan struct{}
	queue   chan struct{}
	service time.Duration
	start   time.Time

	mu       sync.Mutex
	inFlight int
	done     []time.Duration
	refused  int
}

func newCappedPartner(capacity int, service time.Duration) *cappedPartner {
	return &cappedPartner{slots: make(chan struct{}, capacity), queue: make(chan struct{}, 2*capacity), service: service, start: time.Now()}
}

func (p *cappedPartner) Deliver(ctx context.Context, _ *delivery.Message) error {
	select {
	case p.queue <- struct{}{}:
	default:
		p.mu.Lock()
		p.refused++
		p.mu.Unlock()
		// A refusal is an answer too: it takes a round trip. Answered in
		// no time at all, the 503s a worker can get before the learner's
		// cut lands were bounded by the real scheduler, not fake time.
		time.Sleep(time.Millisecond)
		return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusServiceUnavailable}
	}
	defer func() { <-p.queue }()
	p.mu.Lock()
	p.inFlight++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	time.Sleep(p.service)
	p.mu.Lock()
	p.done = append(p.done, time.Since(p.start))
	p.mu.Unlock()
	return nil
}

// run drives one dispatcher at the partner for 30s with a large backlog
// and returns the answers accepted from 10s to 30s, the mean and peak
// requests in flight at the partner over that span, and the 503s.
func (p *cappedPartner) run(t *testing.T, dc delivery.DestinationConfig) (ok int, mean float64, peak, refused int) {
	store := memstore.New(memstore.Config{})
	for i := range 5000 {
		enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
	}
	dc.Deliverer = p
	ctx, cancel := context.WithCancel(context.Background())
	wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Concurrency: 32,
		Destinations: map[string]delivery.DestinationConfig{"p": dc}})
	time.Sleep(10 * time.Second)
	sum, n := 0, 0
	for range 2000 { // 20s in 10ms steps
		time.Sleep(10 * time.Millisecond)
		p.mu.Lock()
		sum += p.inFlight
		peak = max(peak, p.inFlight)
		p.mu.Unlock()
		n++
	}
	cancel()
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.done {
		if d >= 10*time.Second && d < 30*time.Second {
			ok++
		}
	}
	return ok, float64(sum) / float64(n), peak, p.refused
}

// A partner that serves 10 requests at once (beyond that it queues, then
// answers 503): with AdaptiveConcurrency under a MaxInFlight of 40, the
// requests in flight at the partner settle at about 10 and never pile up
// to 40, and throughput is at least 90% of a fixed MaxInFlight of exactly
// 10.
func TestAdaptiveConcurrencyFindsThePartnersCapacity(t *testing.T) {
	var fixedOK, okAdaptive, peak, refused int
	var mean float64
	synctest.Test(t, func(t *testing.T) {
		fixedOK, _, _, _ = newCappedPartner(10, 100*time.Millisecond).run(t, delivery.DestinationConfig{MaxInFlight: 10})
	})
	synctest.Test(t, func(t *testing.T) {
		okAdaptive, mean, peak, refused = newCappedPartner(10, 100*time.Millisecond).run(t, delivery.DestinationConfig{MaxInFlight: 40, AdaptiveConcurrency: true})
	})
	t.Logf("fixed 10: %d in 20s; adaptive: %d in 20s (%.0f%%), in flight mean %.1f peak %d, %d 503s",
		fixedOK, okAdaptive, 100*float64(okAdaptive)/float64(fixedOK), mean, peak, refused)
	assert.GreaterOrEqual(t, float64(okAdaptive), 0.9*float64(fixedOK), "throughput at least 90% of a fixed limit of 10")
	assert.LessOrEqual(t, mean, 12.0, "in flight settles near the capacity")
	assert.Less(t, peak, 20, "never the whole ceiling")
}

// Answers that change the adaptive limit at the same moment write it in
// the order the learner changed it: a growth computed just before an
// overload cut never lands in the store after the cut. Out of order, the
// store kept the larger limit while the learner, thinking the cut was
// written, wrote nothing more; against a partner that refuses at once,
// workers then burned through the whole backlog with 503s in an instant
// of fake time (about one slow start in four). Twenty slow starts against
// a partner of 10 slots and a queue of 10: each sees only the few 503s of
// overshooting, and the store holds the last limit reported.
func TestAdaptiveConcurrencyWritesLandInOrder(t *testing.T) {
	for i := range 20 {
		synctest.Test(t, func(t *testing.T) {
			p := newCappedPartner(10, 100*time.Millisecond)
			obs := &limitEvents{}
			store := memstore.New(memstore.Config{})
			for j := range 2000 {
				enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", j), Destination: "p", Payload: pl("r")})
			}
			ctx, cancel := context.WithCancel(context.Background())
			wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Concurrency: 32, Observer: obs,
				Destinations: map[string]delivery.DestinationConfig{"p": {MaxInFlight: 40, AdaptiveConcurrency: true, Deliverer: p}}})
			time.Sleep(2 * time.Second)
			cancel()
			wg.Wait()
			p.mu.Lock()
			refused := p.refused
			p.mu.Unlock()
			assert.Less(t, refused, 100, "slow start %d: 503s past the overshoot", i)
			changes := obs.of(delivery.DestinationConcurrencyChange)
			require.NotEmpty(t, changes)
			l, err := store.DestinationLimits(context.Background(), "p")
			require.NoError(t, err)
			assert.Equal(t, changes[len(changes)-1].InFlight, l.MaxInFlight, "slow start %d: the store holds the last limit reported", i)
		})
	}
}

// A dispatcher that starts while the fleet's adaptive limit is learned
// keeps it instead of restarting the fleet from one request at a time.
func TestNewDispatcherKeepsTheLearnedConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		require.NoError(t, store.SetDestinationLimits(context.Background(), "p", delivery.DestinationLimits{MaxInFlight: 9}))
		enqueue(t, store, delivery.Message{ID: "r-0", Destination: "p", Payload: pl("r")})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: newCappedPartner(10, 100*time.Millisecond),
			Destinations: map[string]delivery.DestinationConfig{"p": {MaxInFlight: 40, AdaptiveConcurrency: true}}})
		_, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		assert.GreaterOrEqual(t, ds[0].MaxInFlight, 9, "the fleet's limit, not slow start's 1")
	})
}

// slowLimitsStore's SetDestinationLimits takes took once slow is set, or
// until its context ends, as a database would.
type slowLimitsStore struct {
	*memstore.Store
	took time.Duration
	slow atomic.Bool
}

func (s *slowLimitsStore) SetDestinationLimits(ctx context.Context, name string, l delivery.DestinationLimits) error {
	if s.slow.Load() {
		select {
		case <-time.After(s.took):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.SetDestinationLimits(ctx, name, l)
}

// Two overload cuts a moment apart (4, then 2, then 1) against a store
// whose limit writes take 6s, within StoreTimeout: the second cut waits
// for the first write, then writes with a StoreTimeout of its own, and the
// store ends with the latest cut. When the wait used up the second write's
// StoreTimeout, the write was cut off: the store kept 2 while the learner,
// thinking 1 written, wrote nothing more.
func TestAConcurrencyCutThatWaitsForAnEarlierWriteLands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memstore.New(memstore.Config{})
		store := &slowLimitsStore{Store: mem, took: 6 * time.Second}
		require.NoError(t, mem.SetDestinationLimits(context.Background(), "p", delivery.DestinationLimits{MaxInFlight: 4}))
		enqueue(t, store, delivery.Message{ID: "r-1", Destination: "p", Payload: pl("a")},
			delivery.Message{ID: "r-2", Destination: "p", Payload: pl("b")})
		var n atomic.Int32
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Concurrency: 2,
			Destinations: map[string]delivery.DestinationConfig{"p": {MaxInFlight: 8, AdaptiveConcurrency: true,
				Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
					store.slow.Store(true)
					time.Sleep(time.Duration(10*n.Add(1)) * time.Millisecond)
					return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusServiceUnavailable}
				})}}})
		_, err := d.RunOnce(context.Background())
		require.NoError(t, err, "every write of the limit landed")
		l, err := mem.DestinationLimits(context.Background(), "p")
		require.NoError(t, err)
		assert.Equal(t, 1, l.MaxInFlight, "the store holds the latest cut")
	})
}
