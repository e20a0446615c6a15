package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// limitedPartner accepts limit requests per second (a token bucket of
// burst limit) and answers 429 to the rest, optionally publishing its
// policy; it keeps the time of every answer.
type limitedPartner struct {
	bucket  *rate.Limiter
	publish bool
	start   time.Time

	mu       sync.Mutex
	ok, r429 []time.Duration
}

func newLimitedPartner(limit int, publish bool) *limitedPartner {
	return &limitedPartner{bucket: rate.NewLimiter(rate.Limit(limit), limit), publish: publish, start: time.Now()}
}

func (p *limitedPartner) Deliver(ctx context.Context, _ *delivery.Message) error {
	now := time.Now()
	allowed := p.bucket.AllowN(now, 1)
	if p.publish {
		delivery.ReportRateLimit(ctx, classify.RateLimit{Quota: int64(p.bucket.Burst()), Window: time.Second})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !allowed {
		p.r429 = append(p.r429, now.Sub(p.start))
		return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusTooManyRequests}
	}
	p.ok = append(p.ok, now.Sub(p.start))
	return nil
}

// counts returns the accepted and refused answers in [from, to).
func (p *limitedPartner) counts(from, to time.Duration) (ok, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.ok {
		if t >= from && t < to {
			ok++
		}
	}
	for _, t := range p.r429 {
		if t >= from && t < to {
			refused++
		}
	}
	return ok, refused
}

// rateEvents records the rate changes a dispatcher reports.
type rateEvents struct {
	mu    sync.Mutex
	rates []delivery.DestinationEvent
}

func (o *rateEvents) ObserveAttempt(context.Context, delivery.AttemptEvent) {}
func (o *rateEvents) ObserveRun(context.Context, delivery.Report)           {}

func (o *rateEvents) ObserveDestination(_ context.Context, e delivery.DestinationEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rates = append(o.rates, e)
}

// Three dispatchers send to a partner that accepts 20 requests a second
// and answers 429 to the rest, under a configured Rate of 100/s: they
// learn its limit within 30 seconds (halving, then 20% and 5% steps of
// two seconds each), its 429s stop, and the partner then sees close to its
// 20/s. Each change of the rate is reported.
func TestRateLearnedFrom429s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partner := newLimitedPartner(20, false)
		for i := range 2000 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		events := &rateEvents{}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 3, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 8, Observer: events,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 10}}})
		time.Sleep(60 * time.Second)
		cancel()
		wg.Wait()

		okEarly, refusedEarly := partner.counts(0, 30*time.Second)
		ok, refused := partner.counts(30*time.Second, 60*time.Second)
		t.Logf("first 30s: %d ok, %d 429; then 30s: %d ok (%.1f/s), %d 429", okEarly, refusedEarly, ok, float64(ok)/30, refused)
		assert.Positive(t, refusedEarly, "it was too fast at first")
		assert.Zero(t, refused, "429s stop after the learning period")
		assert.GreaterOrEqual(t, float64(ok)/30, 18.0, "throughput settles near the partner's 20/s")
		events.mu.Lock()
		defer events.mu.Unlock()
		require.NotEmpty(t, events.rates)
		var steps []string
		for _, e := range events.rates {
			steps = append(steps, fmt.Sprintf("%.1f", e.Rate))
		}
		t.Logf("rates learned: %v", steps)
		last := events.rates[len(events.rates)-1]
		assert.Equal(t, delivery.DestinationRateChange, last.Change)
		assert.Equal(t, "http_429", last.Cause)
		assert.InDelta(t, 19.5, last.Rate, 1, "within 5% under the partner's limit")
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		assert.InDelta(t, last.Rate, ds[0].Rate, 1.5, "the fleet shares the learned rate through the store")
	})
}

// A partner that publishes its policy (RateLimit-Policy 20;w=1) is
// followed at once: the rate drops to 20/s on the first answer.
func TestRateLearnedFromPolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partner := newLimitedPartner(20, true)
		for i := range 600 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 2, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 8,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 5}}})
		time.Sleep(20 * time.Second)
		cancel()
		wg.Wait()
		ok, refused := partner.counts(0, 20*time.Second)
		t.Logf("%d ok, %d 429", ok, refused)
		assert.LessOrEqual(t, refused, 10, "at most the first claim's records went too fast")
		assert.GreaterOrEqual(t, ok, 18*20)
	})
}

// The learned rate holds for RateRecovery, then climbs back to the
// configured Rate over as long again, written to the store as it goes.
func TestLearnedRateRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		var mu sync.Mutex
		limiting := true
		partner := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if limiting {
				return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusTooManyRequests}
			}
			return nil
		})
		for i := range 100 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		events := &rateEvents{}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partner, Observer: events, RateRecovery: time.Minute,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 10, Burst: 1}}})
		time.Sleep(5 * time.Second)
		mu.Lock()
		limiting = false
		mu.Unlock()
		rateNow := func() float64 {
			ds, err := store.Destinations(context.Background())
			require.NoError(t, err)
			return ds[0].Rate
		}
		learned := rateNow()
		assert.Less(t, learned, 10.0, "429s lowered it")
		time.Sleep(50 * time.Second)
		assert.Equal(t, learned, rateNow(), "held for RateRecovery")
		for i := range 200 { // keep it busy while it recovers
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("s-%04d", i), Destination: "p", Payload: pl("s")})
		}
		time.Sleep(40 * time.Second)
		mid := rateNow()
		assert.Greater(t, mid, learned, "climbing")
		assert.Less(t, mid, 10.0)
		time.Sleep(2 * time.Minute)
		assert.Equal(t, 10.0, rateNow(), "back at the ceiling, never above")
		cancel()
		wg.Wait()
		events.mu.Lock()
		defer events.mu.Unlock()
		assert.Equal(t, "recovery", events.rates[len(events.rates)-1].Cause)
	})
}

// A dispatcher that starts after the fleet learned a partner's rate joins
// it instead of writing the configured ceiling back (which would bring
// the 429s back on every deploy or scale-up).
func TestNewDispatcherKeepsTheLearnedRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partner := newLimitedPartner(20, false)
		for i := range 1000 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		cfg := delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 8,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 10}}}
		ctx, cancel := context.WithCancel(context.Background())
		first := runFleet(t, ctx, 1, cfg)
		time.Sleep(30 * time.Second)
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		learned := ds[0].Rate
		require.Less(t, learned, 21.0)
		late, cancelLate := context.WithCancel(context.Background())
		second := runFleet(t, late, 1, cfg)
		time.Sleep(10 * time.Second)
		_, refused := partner.counts(30*time.Second, 40*time.Second)
		ds, err = store.Destinations(context.Background())
		require.NoError(t, err)
		cancel()
		cancelLate()
		first.Wait()
		second.Wait()
		assert.Equal(t, learned, ds[0].Rate, "the newcomer kept the fleet's rate")
		assert.Zero(t, refused, "no 429s came back")
	})
}

// slowLimits is a memstore whose DestinationLimits, the fleet's rate a
// learner reads before it cuts, takes a millisecond.
type slowLimits struct{ *memstore.Store }

func (s slowLimits) DestinationLimits(ctx context.Context, name string) (delivery.DestinationLimits, error) {
	time.Sleep(time.Millisecond)
	return s.Store.DestinationLimits(ctx, name)
}

// Eight workers hear a 429 at the same moment, after two seconds of
// accepted requests: the burst is one verdict on the rate in force and
// makes one cut, not eight stacked on each other (each worker judging
// the same answers, and cutting the rate the one before it had just
// cut).
func TestOneBurstOf429sMakesOneCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := slowLimits{memstore.New(memstore.Config{})}
		for i := range 250 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		const burst = 8
		var held atomic.Int32
		release := make(chan struct{})
		partner := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
			if !strings.HasPrefix(m.ID, "late-") {
				time.Sleep(10 * time.Millisecond)
				return nil
			}
			// The late records are held until all are in flight, then
			// refused together; their retries are accepted.
			switch n := held.Add(1); {
			case n > burst:
				return nil
			case n == burst:
				close(release)
			}
			<-release
			return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusTooManyRequests}
		})
		events := &rateEvents{}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: burst, Observer: events,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 10}}})
		time.Sleep(3 * time.Second) // 250 accepted at 100/s, then idle: the burst is back
		for i := range burst {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("late-%d", i), Destination: "p", Payload: pl("r")})
		}
		time.Sleep(5 * time.Second)
		cancel()
		wg.Wait()

		require.GreaterOrEqual(t, int(held.Load()), burst, "the late records were attempted together")
		events.mu.Lock()
		defer events.mu.Unlock()
		var cuts []float64
		for _, e := range events.rates {
			if e.Cause == "http_429" {
				cuts = append(cuts, e.Rate)
			}
		}
		require.Len(t, cuts, 1, "one cut for one burst of 429s: %v", cuts)
		assert.InDelta(t, 95.0, cuts[0], 0.01, "the fine step: the partner accepted most of what was sent")
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		assert.InDelta(t, 95.0, ds[0].Rate, 0.01)
	})
}
