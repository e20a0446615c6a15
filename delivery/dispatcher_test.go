package delivery_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// script is a Deliverer that answers each message id with a scripted
// sequence of errors (the last one repeats) and records what it saw.
type script struct {
	mu       sync.Mutex
	answers  map[string][]error
	seen     []string // ids in delivery order
	attempts map[string][]int
	at       map[string][]time.Time
}

func newScript() *script {
	return &script{answers: map[string][]error{}, attempts: map[string][]int{}, at: map[string][]time.Time{}}
}

func (s *script) on(id string, errs ...error) *script {
	s.answers[id] = errs
	return s
}

func (s *script) Deliver(_ context.Context, m *delivery.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, m.ID)
	s.attempts[m.ID] = append(s.attempts[m.ID], m.Attempt)
	s.at[m.ID] = append(s.at[m.ID], time.Now())
	errs := s.answers[m.ID]
	if len(errs) == 0 {
		return nil
	}
	n := len(s.attempts[m.ID]) - 1
	return errs[min(n, len(errs)-1)]
}

func newDispatcher(t *testing.T, cfg delivery.DispatcherConfig) *delivery.Dispatcher {
	t.Helper()
	d, err := delivery.NewDispatcher(cfg)
	require.NoError(t, err)
	return d
}

func enqueue(t *testing.T, s delivery.Store, msgs ...delivery.Message) {
	t.Helper()
	_, err := s.Enqueue(context.Background(), msgs...)
	require.NoError(t, err)
}

func get(t *testing.T, s delivery.Store, id string) delivery.Record {
	t.Helper()
	r, err := s.Get(context.Background(), id)
	require.NoError(t, err)
	return r
}

func pl(id string) []byte { return []byte(`{"id":"` + id + `"}`) }

var (
	errUnavailable = &classify.Error{Class: classify.ClassUnavailable, Err: errors.New("breaker open")}
	http503        = &classify.Error{Class: classify.ClassEphemeral, Status: 503}
	http429        = &classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: 5 * time.Minute}
	http409        = &classify.Error{Class: classify.ClassDuplicate, Status: 409}
	http400        = &classify.Error{Class: classify.ClassPermanent, Status: 400}
	http422        = &classify.Error{Class: classify.ClassDiscard, Status: 422, Body: "candidate never completed"}
)

func TestDispatcherClassTransitions(t *testing.T) {
	cases := []struct {
		name      string
		answers   []error
		runs      []time.Duration // when to run, from the start
		state     delivery.State
		attempts  int
		deferrals int
		dup       bool
		next      time.Duration // expected NextAttemptAt - start, for pending records
		at        []time.Duration
	}{
		{name: "ok", answers: nil, runs: []time.Duration{0},
			state: delivery.StateDelivered, attempts: 1, at: []time.Duration{0}},
		{name: "duplicate", answers: []error{http409}, runs: []time.Duration{0},
			state: delivery.StateDelivered, attempts: 1, dup: true, at: []time.Duration{0}},
		{name: "permanent", answers: []error{http400}, runs: []time.Duration{0, time.Hour},
			state: delivery.StateDead, attempts: 1, at: []time.Duration{0}},
		{name: "discard", answers: []error{http422}, runs: []time.Duration{0, time.Hour},
			state: delivery.StateDiscarded, attempts: 1, at: []time.Duration{0}},
		{name: "ephemeral then ok", answers: []error{http503, http503, nil},
			runs:  []time.Duration{0, 30 * time.Second, time.Minute, 4 * time.Minute},
			state: delivery.StateDelivered, attempts: 3, at: []time.Duration{0, time.Minute, 4 * time.Minute}},
		{name: "ephemeral until max attempts", answers: []error{http503},
			runs:  []time.Duration{0, time.Minute, 4 * time.Minute, 13 * time.Minute, 40 * time.Minute, 10 * time.Hour},
			state: delivery.StateDead, attempts: 4, at: []time.Duration{0, time.Minute, 4 * time.Minute, 13 * time.Minute}},
		// A 429 is the destination's: it pauses the destination until the
		// Retry-After, spending none of the record's attempts, and the
		// probe after the pause delivers it.
		{name: "429 pauses the destination until its Retry-After", answers: []error{http429, nil},
			runs:  []time.Duration{0, time.Minute, 5 * time.Minute},
			state: delivery.StateDelivered, attempts: 1, deferrals: 1, at: []time.Duration{0, 5 * time.Minute}},
		// Unavailable (a breaker open inside the deliverer) pauses the
		// destination; the record is due again at once, held back only by
		// the pause, so it goes the moment the pause ends.
		{name: "unavailable is not an attempt", answers: []error{errUnavailable},
			runs:  []time.Duration{0},
			state: delivery.StatePending, attempts: 0, deferrals: 1, next: 0, at: []time.Duration{0}},
		{name: "pending retry keeps its time", answers: []error{http503},
			runs:  []time.Duration{0, 59 * time.Second},
			state: delivery.StatePending, attempts: 1, next: time.Minute, at: []time.Duration{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				store := memstore.New(memstore.Config{})
				sc := newScript().on("r", tc.answers...)
				d := newDispatcher(t, delivery.DispatcherConfig{
					Store: store, Deliverer: sc, Policy: retry.Policy{MaxAttempts: 4},
				})
				enqueue(t, store, delivery.Message{ID: "r", Payload: pl("r")})
				for _, at := range tc.runs {
					time.Sleep(at - time.Since(start))
					_, err := d.RunOnce(context.Background())
					require.NoError(t, err)
				}
				r := get(t, store, "r")
				assert.Equal(t, tc.state, r.State)
				assert.Equal(t, tc.attempts, r.Attempts)
				assert.Equal(t, tc.deferrals, r.Deferrals)
				assert.Equal(t, tc.dup, r.Duplicate)
				if tc.state == delivery.StatePending {
					assert.Equal(t, tc.next, r.NextAttemptAt.Sub(start))
				}
				var at []time.Duration
				for _, t := range sc.at["r"] {
					at = append(at, t.Sub(start))
				}
				assert.Equal(t, tc.at, at, "attempt times")
				if tc.state == delivery.StateDead || tc.state == delivery.StateDiscarded {
					assert.NotEmpty(t, r.LastAttempt.Error, "the reason is kept")
				}
			})
		})
	}
}

func TestDispatcherAttemptNumbersAndReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		sc := newScript().on("a", http503, nil).on("b", http400).on("c", http409).on("d", http422).on("e", errUnavailable)
		var obs recordingObserver
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Observer: &obs, Concurrency: 3})
		for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
			dest := ""
			if id == "e" {
				dest = "down" // its breaker is open: only its destination pauses
			}
			enqueue(t, store, delivery.Message{ID: id, Destination: dest, Payload: pl(id)})
		}
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 6, rep.Claimed)
		assert.Equal(t, 6, rep.Attempted, "the deliverer was called for every record (e's breaker refused inside it)")
		assert.Equal(t, 1, rep.Delivered)
		assert.Equal(t, 1, rep.Duplicates)
		assert.Equal(t, 1, rep.Retried)
		assert.Equal(t, 1, rep.DeadLettered)
		assert.Equal(t, 1, rep.Discarded)
		assert.Equal(t, 1, rep.Deferred)
		assert.Equal(t, 1, rep.Count(classify.ClassEphemeral))
		assert.Equal(t, 1, rep.Count(classify.ClassUnavailable))
		assert.Equal(t, time.Now().Add(5*time.Second), rep.NextDue, "e's destination is paused for 5s (DefaultPauseBackoff)")

		time.Sleep(time.Minute)
		rep, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Claimed, "a's retry and e's probe are both due")
		assert.Equal(t, []int{1, 2}, sc.attempts["a"], "Message.Attempt counts attempts")
		assert.Equal(t, []int{1, 1}, sc.attempts["e"], "deferrals do not count")

		events := obs.events()
		require.Len(t, events, 8)
		causes := map[string]string{}
		for _, e := range events[:6] {
			causes[e.Record.ID] = e.Cause
		}
		assert.Equal(t, "http_503", causes["a"])
		assert.Equal(t, "ok", causes["f"])
		assert.Len(t, obs.runs(), 2)
	})
}

type recordingObserver struct {
	mu sync.Mutex
	ev []delivery.AttemptEvent
	rr []delivery.Report
}

func (o *recordingObserver) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	o.mu.Lock()
	o.ev = append(o.ev, e)
	o.mu.Unlock()
}

func (o *recordingObserver) ObserveRun(_ context.Context, r delivery.Report) {
	o.mu.Lock()
	o.rr = append(o.rr, r)
	o.mu.Unlock()
}

func (o *recordingObserver) events() []delivery.AttemptEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]delivery.AttemptEvent(nil), o.ev...)
}

func (o *recordingObserver) runs() []delivery.Report {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]delivery.Report(nil), o.rr...)
}

// drain runs d until a run claims nothing.
func drain(t *testing.T, d *delivery.Dispatcher) (runs int) {
	t.Helper()
	for {
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		runs++
		if rep.Claimed == 0 {
			return runs
		}
	}
}

func TestDispatcherSequentialIsStrictlyOrdered(t *testing.T) {
	const n = 10000
	store := memstore.New(memstore.Config{})
	msgs := make([]delivery.Message, n)
	want := make([]string, n)
	for i := range msgs {
		id := fmt.Sprintf("r-%05d", i)
		msgs[i] = delivery.Message{ID: id, Payload: pl(id)}
		want[i] = id
	}
	enqueue(t, store, msgs...)
	var inflight, peak atomic.Int32
	sc := newScript()
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, MaxPerRun: 1000,
		Deliverer: delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			if n > peak.Load() {
				peak.Store(n)
			}
			return sc.Deliver(ctx, m)
		})})
	runs := drain(t, d)
	assert.Equal(t, 11, runs, "MaxPerRun bounds each run: 10 full runs and an empty one")
	assert.Equal(t, want, sc.seen, "concurrency 1 delivers strictly in enqueue order")
	assert.EqualValues(t, 1, peak.Load())
}

func TestDispatcherConcurrencyWithKeys(t *testing.T) {
	const n, keys, conc = 10000, 100, 16
	store := memstore.New(memstore.Config{})
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		id := fmt.Sprintf("r-%05d", i)
		msgs[i] = delivery.Message{ID: id, Key: fmt.Sprintf("k%03d", i%keys), Payload: pl(id)}
	}
	enqueue(t, store, msgs...)

	var mu sync.Mutex
	perKey := map[string][]string{}
	keyBusy := map[string]bool{}
	tries := map[string]int{}
	var inflight, peak atomic.Int32
	var overlap atomic.Int32
	deliverer := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		mu.Lock()
		if keyBusy[m.Key] {
			overlap.Add(1)
		}
		keyBusy[m.Key] = true
		tries[m.ID]++
		fail := tries[m.ID] == 1 && m.ID[len(m.ID)-1] == '7' // every tenth record fails once
		if !fail {
			perKey[m.Key] = append(perKey[m.Key], m.ID)
		}
		mu.Unlock()
		time.Sleep(50 * time.Microsecond) // load shape: let attempts overlap
		mu.Lock()
		keyBusy[m.Key] = false
		mu.Unlock()
		if fail {
			return http503
		}
		return nil
	})
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: deliverer, Concurrency: conc,
		MaxPerRun: 500, Policy: retry.Policy{Backoff: retry.Constant(0)}})
	drain(t, d)

	st, err := store.Stats(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, n, st.Count(delivery.StateDelivered))
	assert.LessOrEqual(t, peak.Load(), int32(conc))
	assert.Greater(t, peak.Load(), int32(1), "attempts did run in parallel")
	assert.Zero(t, overlap.Load(), "never two records of one key in flight")
	for k, got := range perKey {
		for i := 1; i < len(got); i++ {
			require.Less(t, got[i-1], got[i], "key %s delivered out of order (retries included)", k)
		}
	}
}

func TestDispatcherMaxPerRun(t *testing.T) {
	store := memstore.New(memstore.Config{})
	for i := range 250 {
		enqueue(t, store, delivery.Message{ID: fmt.Sprint(i), Payload: pl("x")})
	}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: newScript(), Concurrency: 8})
	rep, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, delivery.DefaultMaxPerRun, rep.Claimed)
	assert.Equal(t, delivery.DefaultMaxPerRun, rep.Delivered)
	st, _ := store.Stats(context.Background())
	assert.EqualValues(t, 150, st.Count(delivery.StatePending))
}

func TestDispatcherCrashSafety(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for i := range 50 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
		}
		// A worker claims everything and dies without settling.
		dead, err := store.Claim(context.Background(), 100, 2*time.Minute)
		require.NoError(t, err)
		require.Len(t, dead, 50)

		sc := newScript()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Concurrency: 4})
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Zero(t, rep.Claimed, "leased records are not taken while the lease holds")

		time.Sleep(2*time.Minute + time.Second)
		drain(t, d)
		st, _ := store.Stats(context.Background())
		assert.EqualValues(t, 50, st.Count(delivery.StateDelivered), "nothing lost")
		assert.Len(t, sc.seen, 50, "each record sent once more, not more")

		// The dead worker wakes up and tries to record its stale results.
		err = store.Complete(context.Background(), dead[0].Lease(), delivery.Attempt{Class: classify.ClassOK}, false)
		assert.ErrorIs(t, err, delivery.ErrLeaseLost, "fencing rejects the stale completion")
	})
}

func TestDispatcherGateClosedForTwoDays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		outage := 48 * time.Hour
		var gateCalls atomic.Int64
		gate := delivery.GateFunc(func(ctx context.Context) error {
			gateCalls.Add(1)
			if time.Since(start) < outage {
				return &classify.Error{Class: classify.ClassUnavailable, RetryAfter: time.Minute, Err: errors.New("partner health check failing")}
			}
			return nil
		})
		store := memstore.New(memstore.Config{})
		for i := range 500 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%03d", i), Key: fmt.Sprintf("k%d", i%20), Payload: pl("x")})
		}
		sc := newScript()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Gate: gate, Concurrency: 8})

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()

		time.Sleep(outage - time.Second)
		synctest.Wait()
		sc.mu.Lock()
		attempts := len(sc.seen)
		sc.mu.Unlock()
		assert.Zero(t, attempts, "no attempt consumed while the gate is closed")
		st, _ := store.Stats(context.Background())
		assert.EqualValues(t, 500, st.Count(delivery.StatePending))
		assert.Zero(t, st.Count(delivery.StateDead), "nothing dead-lettered during the outage")
		// Once per hint (the pause it sets), not in a spin; the records of
		// the first claim (2*Concurrency) may each ask before the first
		// refusal pauses the destination.
		assert.LessOrEqual(t, gateCalls.Load(), int64(outage/time.Minute)+2+16, "the gate is asked once per hint, not in a spin")

		time.Sleep(2 * time.Minute)
		synctest.Wait()
		st, _ = store.Stats(context.Background())
		assert.EqualValues(t, 500, st.Count(delivery.StateDelivered), "the backlog drains once the gate opens")
		cancel()
		require.NoError(t, <-done)
	})
}

func TestDispatcherGateClosingMidRunDefers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for i := range 10 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprint(i), Payload: pl("x")})
		}
		var calls atomic.Int32
		gate := delivery.GateFunc(func(context.Context) error {
			if calls.Add(1) > 2 { // two attempts pass
				return classify.Unavailable(errors.New("breaker open"))
			}
			return nil
		})
		sc := newScript()
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Gate: gate})
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Delivered)
		// The record refused and any queued behind it (claimed ahead) are
		// deferred without an attempt, and the destination is paused, so
		// nothing more is claimed: at most one record waits in the queue
		// at Concurrency 1.
		assert.Contains(t, []int{1, 2}, rep.Deferred, "the claimed records are deferred, and claiming stops")
		assert.Equal(t, rep.Delivered+rep.Deferred, rep.Claimed)
		assert.True(t, rep.GateClosed)
		st, _ := store.Stats(context.Background())
		assert.EqualValues(t, 8, st.Count(delivery.StatePending))
		assert.Zero(t, st.Count(delivery.StateInFlight))
	})
}

func TestDispatcherGracefulShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		for i := range 40 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Payload: pl("x")})
		}
		slow := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			select {
			case <-time.After(3 * time.Second):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: slow, Concurrency: 4,
			ShutdownGrace: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan delivery.Report)
		go func() {
			rep, _ := d.RunOnce(ctx)
			done <- rep
		}()
		time.Sleep(4 * time.Second) // 4 delivered, 4 more in flight
		cancel()
		rep := <-done
		assert.Equal(t, 8, rep.Delivered, "attempts in flight finish within the grace period")

		st, _ := store.Stats(context.Background())
		assert.Zero(t, st.Count(delivery.StateInFlight), "nothing stuck in flight")
		assert.EqualValues(t, 40, st.Count(delivery.StateDelivered)+st.Count(delivery.StatePending))
		assert.EqualValues(t, 8, st.Count(delivery.StateDelivered))

		// With a grace shorter than the attempt, attempts are cut off and
		// released without counting.
		d = newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: slow, Concurrency: 4,
			ShutdownGrace: time.Second})
		ctx, cancel = context.WithCancel(context.Background())
		go func() {
			rep, _ := d.RunOnce(ctx)
			done <- rep
		}()
		time.Sleep(time.Second)
		cancel()
		rep = <-done
		assert.Zero(t, rep.Delivered)
		assert.Equal(t, 8, rep.Released, "the 4 attempts cut off and the 4 records queued behind them")
		st, _ = store.Stats(context.Background())
		assert.Zero(t, st.Count(delivery.StateInFlight))
		assert.EqualValues(t, 32, st.Count(delivery.StatePending))
		page, err := store.List(context.Background(), delivery.ListOptions{State: delivery.StatePending, Limit: 1000})
		require.NoError(t, err)
		for _, r := range page.Records {
			assert.Zero(t, r.Attempts, "released records consumed no attempt")
		}
	})
}

func TestRunWakesOnInsertsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		var obs recordingObserver
		sc := newScript().on("fails", http503, nil)
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Observer: &obs,
			PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		assert.Len(t, obs.runs(), 1, "one run at start")

		enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
		synctest.Wait()
		assert.Len(t, obs.runs(), 3, "an insert wakes it: a run that delivers, then one that finds nothing")

		time.Sleep(30 * time.Minute)
		synctest.Wait()
		assert.Len(t, obs.runs(), 3, "its own state writes never wake it")

		enqueue(t, store, delivery.Message{ID: "fails", Payload: pl("f")})
		synctest.Wait()
		runsAfterInsert := len(obs.runs())
		time.Sleep(time.Minute - time.Nanosecond)
		synctest.Wait()
		assert.Len(t, obs.runs(), runsAfterInsert, "nothing before the retry is due")
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, delivery.StateDelivered, get(t, store, "fails").State, "woken exactly when the retry is due")
		cancel()
		require.NoError(t, <-done)
	})
}

func TestDispatcherConfigValidation(t *testing.T) {
	_, err := delivery.NewDispatcher(delivery.DispatcherConfig{})
	require.Error(t, err)
	assert.ErrorContains(t, err, "Store is required")
	assert.ErrorContains(t, err, "Deliverer is required")

	store := memstore.New(memstore.Config{})
	_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(),
		Concurrency: -1, Policy: retry.Policy{MaxAttempts: -2}})
	assert.ErrorContains(t, err, "Concurrency")
	assert.ErrorContains(t, err, "MaxAttempts")

	_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(),
		AttemptTimeout: time.Minute, Lease: 30 * time.Second})
	assert.ErrorContains(t, err, "Lease")
}

// failingClaims is a store whose Claim fails, as when the database is down.
type failingClaims struct{ delivery.Store }

func (failingClaims) Claim(context.Context, int, time.Duration, ...string) ([]delivery.Record, error) {
	return nil, errors.New("connection refused")
}

func TestRunOnceReportsStoreErrorsToObservers(t *testing.T) {
	var obs recordingObserver
	d := newDispatcher(t, delivery.DispatcherConfig{Store: failingClaims{memstore.New(memstore.Config{})},
		Deliverer: newScript(), Observer: &obs})
	rep, err := d.RunOnce(context.Background())
	require.Error(t, err)
	assert.ErrorContains(t, err, "claim: connection refused")
	runs := obs.runs()
	require.Len(t, runs, 1)
	assert.Equal(t, err, runs[0].Err, "the observer sees what RunOnce returned")
	assert.Equal(t, err, rep.Err)
}

func TestDeliverersSeeTheCorrelationID(t *testing.T) {
	store := memstore.New(memstore.Config{})
	enqueue(t, store, delivery.Message{ID: "a", CorrelationID: "req-1", Payload: pl("a")},
		delivery.Message{ID: "b", Payload: pl("b")})
	seen := map[string]string{}
	d := newDispatcher(t, delivery.DispatcherConfig{Store: store,
		Deliverer: delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			seen[m.ID] = delivery.CorrelationIDFrom(ctx)
			return nil
		})})
	_, err := d.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "req-1", "b": "b"}, seen, "the message's id, else the record id, for log lines inside the deliverer")
}

func TestDispatcherSurvivesAPanickingDeliverer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		enqueue(t, store, delivery.Message{ID: "boom", Payload: pl("boom")}, delivery.Message{ID: "fine", Payload: pl("fine")})
		br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "p", HalfOpenRequests: 1, ConsecutiveFailures: 1, OpenTimeout: time.Minute})
		require.NoError(t, err)
		calls := 0
		panicky := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
			calls++
			switch {
			case calls == 1:
				return http503 // opens the breaker
			case m.ID == "boom":
				panic("template: nil map in candidate " + m.ID)
			}
			return nil
		})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: delivery.Chain(panicky, delivery.WithBreaker(br)),
			Policy: retry.Policy{Backoff: retry.Constant(2 * time.Minute)}})
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		time.Sleep(2 * time.Minute) // the breaker is half-open: one probe allowed
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err, "the process survives")
		assert.Equal(t, 1, rep.DeadLettered, "a panicking record is dead-lettered, not retried forever")
		dead := get(t, store, "boom")
		assert.Equal(t, delivery.StateDead, dead.State)
		assert.Contains(t, dead.LastAttempt.Error, "deliverer panicked")

		// The panic released the half-open slot: the breaker is not stuck.
		rep, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.NotEqual(t, health.BreakerOpen, br.State())
		assert.Equal(t, delivery.StateDelivered, get(t, store, "fine").State)
	})
}

// A retry scheduled by an earlier run must not wait for the poll when a
// sooner one fires first (the store says when the next record is due).
func TestRunWakesForEveryScheduledRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		store := memstore.New(memstore.Config{})
		sc := newScript().on("a", http503, nil).on("b", http503, nil)
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		enqueue(t, store, delivery.Message{ID: "a", Payload: pl("a")})
		time.Sleep(30 * time.Second)
		enqueue(t, store, delivery.Message{ID: "b", Payload: pl("b")})
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)
		at := func(id string) []time.Duration {
			var out []time.Duration
			for _, t := range sc.at[id] {
				out = append(out, t.Sub(start))
			}
			return out
		}
		assert.Equal(t, []time.Duration{0, time.Minute}, at("a"))
		assert.Equal(t, []time.Duration{30 * time.Second, 90 * time.Second}, at("b"), "b's retry fires at its time, not at the next poll")
	})
}

func TestDispatcherLeaseMustCoverGateAttemptAndWrite(t *testing.T) {
	store := memstore.New(memstore.Config{})
	_, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(),
		AttemptTimeout: 30 * time.Second, StoreTimeout: 10 * time.Second, Lease: 70 * time.Second})
	assert.ErrorContains(t, err, "twice AttemptTimeout plus StoreTimeout")
	_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(),
		AttemptTimeout: 30 * time.Second, StoreTimeout: 10 * time.Second, Lease: 71 * time.Second})
	assert.NoError(t, err)
	_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(), AttemptTimeout: -1})
	assert.ErrorContains(t, err, "Lease must be set")
	_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(), AttemptTimeout: -1, Lease: time.Hour})
	assert.NoError(t, err)
	_, err = delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: newScript(), AttemptTimeout: 5 * time.Minute})
	assert.NoError(t, err, "the default lease follows a long attempt timeout")
}

func TestRedriveStartsANewEffort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		sc := newScript().on("r", http400, http503, nil)
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc,
			Policy: retry.Policy{MaxElapsed: 24 * time.Hour}})
		enqueue(t, store, delivery.Message{ID: "r", Payload: pl("r")})
		_, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, delivery.StateDead, get(t, store, "r").State)

		time.Sleep(48 * time.Hour) // an operator fixes the cause two days later
		_, err = store.Redrive(context.Background(), "r")
		require.NoError(t, err)
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		r := get(t, store, "r")
		assert.Equal(t, delivery.StatePending, r.State, "one transient failure after a redrive is retried, not dead-lettered for the record's age")
		time.Sleep(time.Minute)
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, get(t, store, "r").State)
	})
}

func TestDispatcherReleasesQueuedRecordWhoseLeaseRanLow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		enqueue(t, store, delivery.Message{ID: "slow", Payload: pl("s")})
		enqueue(t, store, delivery.Message{ID: "queued", Payload: pl("q")})
		var sent []string
		var leases []string
		deliverer := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			sent = append(sent, m.ID) // Concurrency 1: one attempt at a time
			if m.ID == "slow" {
				time.Sleep(5 * time.Second)
			}
			return nil
		})
		var obs recordingObserver
		// A lease of 25s covers a gate check and an attempt of 10s each and
		// a store write of 1s, with 4s to spare: a record queued for 5s
		// behind "slow" has too little left and must not be attempted on
		// that claim; released, it is claimed afresh and delivered.
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: deliverer, Observer: &obs,
			AttemptTimeout: 10 * time.Second, StoreTimeout: time.Second, Lease: 25 * time.Second})
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"slow", "queued"}, sent)
		assert.Equal(t, 2, rep.Delivered)
		assert.Equal(t, 1, rep.Released)
		assert.Equal(t, 3, rep.Claimed, "the queued record was claimed twice")
		for _, e := range obs.events() {
			if e.Record.ID == "queued" {
				leases = append(leases, e.Record.LeaseToken)
				if e.Action == delivery.ActionRelease {
					assert.False(t, e.Attempted, "not sent on the short lease")
				}
			}
		}
		require.Len(t, leases, 2)
		assert.NotEqual(t, leases[0], leases[1], "delivered on a fresh claim")
		rec := get(t, store, "queued")
		assert.Equal(t, delivery.StateDelivered, rec.State)
		assert.EqualValues(t, 1, rec.Attempts, "the release spent no attempt")
	})
}
