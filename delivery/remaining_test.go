package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// quotaPartner allows quota requests per fixed window and says how many
// are left only the common way: X-RateLimit-Remaining and
// X-RateLimit-Reset (whole seconds to the window's end, rounded up), read
// with classify.ParseRateLimit and reported as HTTPDeliverer does. Over
// its quota it answers 429 (remaining 0). It keeps the time of every
// answer.
type quotaPartner struct {
	quota  int
	window time.Duration
	start  time.Time

	mu       sync.Mutex
	current  int // the window in force, counted from start
	used     int // requests it accepted in it
	ok, r429 []time.Duration
	minLeft  int // the least remaining count it answered with
}

func newQuotaPartner(quota int, window time.Duration) *quotaPartner {
	return &quotaPartner{quota: quota, window: window, start: time.Now(), minLeft: quota}
}

func (p *quotaPartner) Deliver(ctx context.Context, _ *delivery.Message) error {
	p.mu.Lock()
	now := time.Now()
	at := now.Sub(p.start)
	if w := int(at / p.window); w != p.current {
		p.current, p.used = w, 0
	}
	allowed := p.used < p.quota
	if allowed {
		p.used++
		p.ok = append(p.ok, at)
	} else {
		p.r429 = append(p.r429, at)
	}
	left := p.quota - p.used
	p.minLeft = min(p.minLeft, left)
	reset := time.Duration(p.current+1)*p.window - at
	p.mu.Unlock()
	h := http.Header{}
	h.Set("X-RateLimit-Remaining", strconv.Itoa(left))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64((reset+time.Second-1)/time.Second), 10))
	if rl, ok := classify.ParseRateLimit(h, now); ok {
		delivery.ReportRateLimit(ctx, rl)
	}
	if !allowed {
		return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusTooManyRequests}
	}
	return nil
}

// counts returns the accepted and refused answers in [from, to).
func (p *quotaPartner) counts(from, to time.Duration) (ok, refused int) {
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

// Three dispatchers under a configured Rate of 100/s send to a partner
// allowing 200 requests per 10s window (a budget of 20/s) that publishes
// no policy, only X-RateLimit-Remaining and X-RateLimit-Reset: its first
// answer lowers the fleet's rate to what is left over what is left of the
// window (cause "ratelimit_remaining"), and after the first window the
// partner never answers 429. Later answers, which leave plenty, change
// nothing: the rate is written a few times, not once per answer.
func TestRateLearnedFromRemaining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partner := newQuotaPartner(200, 10*time.Second)
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

		okEarly, refusedEarly := partner.counts(0, 10*time.Second)
		ok, refused := partner.counts(10*time.Second, 60*time.Second)
		t.Logf("first window: %d ok, %d 429; then 50s: %d ok (%.1f/s), %d 429", okEarly, refusedEarly, ok, float64(ok)/50, refused)
		assert.Zero(t, refused, "no 429 after the first window")
		assert.GreaterOrEqual(t, float64(ok)/50, 15.0, "it uses most of the partner's 20/s")
		events.mu.Lock()
		defer events.mu.Unlock()
		var rates []string
		for _, e := range events.rates {
			if e.Change == delivery.DestinationRateChange && e.Cause != "start" {
				rates = append(rates, fmt.Sprintf("%s %.1f", e.Cause, e.Rate))
				assert.Equal(t, "ratelimit_remaining", e.Cause)
				assert.LessOrEqual(t, e.Rate, 100.0, "never above the ceiling")
				assert.NoError(t, e.StoreErr)
			}
		}
		t.Logf("rate changes: %v", rates)
		require.NotEmpty(t, rates, "the remaining quota lowered the rate")
		assert.LessOrEqual(t, len(rates), 10, "no write per answer: %d rate changes for %d answers", len(rates), ok+okEarly)
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		assert.LessOrEqual(t, ds[0].Rate, 21.0, "the fleet's rate is the partner's budget or under")
	})
}

// A partner that says its quota is spent (X-RateLimit-Remaining: 0) until
// a reset 3s away pauses the destination for the fleet until then: no
// request reaches it in those 3s, the pause's cause is
// "ratelimit_remaining", and the fleet resumes after it.
func TestSpentQuotaPausesUntilReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		start := time.Now()
		var mu sync.Mutex
		var seen []time.Duration
		partner := delivery.DelivererFunc(func(ctx context.Context, _ *delivery.Message) error {
			mu.Lock()
			at := time.Since(start)
			seen = append(seen, at)
			first := len(seen) == 1
			mu.Unlock()
			if first {
				delivery.ReportRateLimit(ctx, classify.RateLimit{Remaining: 0, HasRemaining: true, Reset: 3 * time.Second})
			}
			return nil
		})
		for i := range 50 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%04d", i), Destination: "p", Payload: pl("r")})
		}
		events := &rateEvents{}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 1, Observer: events,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 1}}})
		time.Sleep(10 * time.Second)
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, seen, 50, "every record sent, once")
		assert.GreaterOrEqual(t, seen[1], 3*time.Second, "nothing until the reset: %v", seen[:3])
		events.mu.Lock()
		defer events.mu.Unlock()
		var paused []delivery.DestinationEvent
		for _, e := range events.rates {
			if e.Change == delivery.DestinationPausedChange {
				paused = append(paused, e)
			}
		}
		require.Len(t, paused, 1, "one pause")
		assert.Equal(t, "ratelimit_remaining", paused[0].Cause)
		assert.Equal(t, start.Add(3*time.Second), paused[0].Until)
	})
}

// Hostile or broken rate-limit headers change nothing harmful: a huge
// remaining count or a reset in the past lowers nothing, a negative or
// malformed value is ignored, a quota spent until a reset far off pauses
// the destination no longer than MaxPause, and a remaining count with a
// reset days away lowers the rate no further than MinRate, with every
// write accepted by the store.
func TestHostileRateLimitHeaders(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name      string
		headers   map[string]string
		lowers    bool
		pauses    bool
		maxPaused time.Duration
	}{
		{name: "huge remaining", headers: map[string]string{"X-RateLimit-Remaining": "99999999999999999999999", "X-RateLimit-Reset": "10"}},
		{name: "negative remaining", headers: map[string]string{"X-RateLimit-Remaining": "-5", "X-RateLimit-Reset": "10"}},
		{name: "negative reset", headers: map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "-10"}},
		{name: "reset in the past", headers: map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": strconv.FormatInt(now.Unix()-3600, 10)}},
		{name: "spent, reset in the past", headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Unix()-3600, 10)}},
		{name: "spent, reset now", headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}},
		{name: "garbage", headers: map[string]string{"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset": "soon", "RateLimit": `"x";r=;t=NaN`}},
		{name: "spent for years", headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99999999999999"}, pauses: true, maxPaused: time.Minute},
		{name: "one left for days", headers: map[string]string{"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "999999"}, lowers: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			rl, _ := classify.ParseRateLimit(h, now)
			synctest.Test(t, func(t *testing.T) {
				store := memstore.New(memstore.Config{})
				enqueue(t, store, delivery.Message{ID: "a", Destination: "p", Payload: pl("a")})
				start := time.Now()
				partner := delivery.DelivererFunc(func(ctx context.Context, _ *delivery.Message) error {
					delivery.ReportRateLimit(ctx, rl)
					return nil
				})
				events := &rateEvents{}
				d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partner, Observer: events, MaxPause: time.Minute,
					Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 10, Burst: 1}}})
				_, err := d.RunOnce(context.Background())
				require.NoError(t, err)
				assert.Equal(t, delivery.StateDelivered, get(t, store, "a").State)
				ds, err := store.Destinations(context.Background())
				require.NoError(t, err)
				require.Len(t, ds, 1)
				if tc.lowers {
					assert.Less(t, ds[0].Rate, 10.0)
				} else {
					assert.Equal(t, 10.0, ds[0].Rate, "the rate is unchanged")
				}
				assert.GreaterOrEqual(t, ds[0].Rate, delivery.MinRate)
				if tc.pauses {
					assert.Equal(t, delivery.DestinationPaused, ds[0].Status)
					assert.LessOrEqual(t, ds[0].PausedUntil.Sub(start), tc.maxPaused, "MaxPause caps the pause")
				} else {
					assert.Equal(t, delivery.DestinationActive, ds[0].Status, "not paused")
				}
				events.mu.Lock()
				defer events.mu.Unlock()
				for _, e := range events.rates {
					assert.NoError(t, e.StoreErr, "%v", e.Change)
				}
			})
		})
	}
}

// A Dispatcher starting with a destination reports the limits in force,
// learned by the fleet before it (Cause "start"), so that gauges show
// them before they first change.
func TestStartReportsTheLimitsInForce(t *testing.T) {
	store := memstore.New(memstore.Config{})
	require.NoError(t, store.SetDestinationLimits(context.Background(), "p", delivery.DestinationLimits{MaxInFlight: 5, Rate: 12, Burst: 3}))
	events := &rateEvents{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
		Observer: events, Destinations: map[string]delivery.DestinationConfig{
			"p": {Rate: 100, Burst: 3, MaxInFlight: 40, AdaptiveConcurrency: true},
			"q": {Rate: 7},
			"r": {MaxInFlight: 4}, // nothing learned: nothing reported
		}})
	_, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	events.mu.Lock()
	defer events.mu.Unlock()
	assert.ElementsMatch(t, []delivery.DestinationEvent{
		{Destination: "p", Change: delivery.DestinationRateChange, Cause: "start", Rate: 12},
		{Destination: "p", Change: delivery.DestinationConcurrencyChange, Cause: "start", InFlight: 5},
		{Destination: "q", Change: delivery.DestinationRateChange, Cause: "start", Rate: 7},
	}, events.rates)
}

// A change of the adaptive concurrency limit writes the destination's
// limits: it writes the fleet's rate, not this process's view of it, so
// it does not undo another process's cut.
func TestConcurrencyChangeKeepsTheFleetsRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for i := range 20 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Destination: "p", Payload: pl("r")})
		}
		cut := false
		partner := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
			if !cut { // another process learns a lower rate while this one sends
				cut = true
				_, err := store.LowerDestinationRate(context.Background(), "p", 7)
				require.NoError(t, err)
			}
			time.Sleep(10 * time.Millisecond)
			return nil
		})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partner, Concurrency: 1,
			Destinations: map[string]delivery.DestinationConfig{"p": {Rate: 100, Burst: 5, MaxInFlight: 8, AdaptiveConcurrency: true}}})
		_, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		l, err := store.DestinationLimits(context.Background(), "p")
		require.NoError(t, err)
		assert.Greater(t, l.MaxInFlight, 1, "the concurrency limit grew, written")
		assert.Equal(t, 7.0, l.Rate, "the fleet's rate kept")
	})
}
