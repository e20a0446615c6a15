package delivery_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/retry"
)

// fakePartners answers for many destinations at once, as a Deliverer, and
// keeps the books: requests per destination with their start times, the
// peak of concurrent requests per destination, and the order of record ids
// each destination received.
type fakePartners struct {
	answer func(dest string, m *delivery.Message, now time.Time) (time.Duration, error)

	mu       sync.Mutex
	starts   map[string][]time.Duration // since start
	inFlight map[string]int
	peak     map[string]int
	got      map[string][]string // ids of accepted records, in order
	start    time.Time
}

func newFakePartners(answer func(dest string, m *delivery.Message, now time.Time) (time.Duration, error)) *fakePartners {
	return &fakePartners{answer: answer, starts: map[string][]time.Duration{}, inFlight: map[string]int{},
		peak: map[string]int{}, got: map[string][]string{}, start: time.Now()}
}

func (p *fakePartners) Deliver(ctx context.Context, m *delivery.Message) error {
	now := time.Now()
	latency, err := p.answer(m.Destination, m, now)
	p.mu.Lock()
	p.starts[m.Destination] = append(p.starts[m.Destination], now.Sub(p.start))
	p.inFlight[m.Destination]++
	p.peak[m.Destination] = max(p.peak[m.Destination], p.inFlight[m.Destination])
	p.mu.Unlock()
	select {
	case <-time.After(latency):
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	p.inFlight[m.Destination]--
	if err == nil {
		p.got[m.Destination] = append(p.got[m.Destination], m.ID)
	}
	p.mu.Unlock()
	return err
}

func (p *fakePartners) requests(dest string) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.starts[dest]...)
}

func (p *fakePartners) received(dest string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got[dest]...)
}

var (
	errRefused  = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	errNXDOMAIN = &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "partner.example", IsNotFound: true}}
	errExpired  = &url.Error{Op: "Post", URL: "https://partner.example/records",
		Err: &tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired, Detail: "certificate has expired"}}}
)

// runFleet runs n dispatchers on store until ctx ends and waits for them.
func runFleet(t *testing.T, ctx context.Context, n int, cfg delivery.DispatcherConfig) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		d := newDispatcher(t, cfg)
		wg.Go(func() { _ = d.Run(ctx) })
	}
	return &wg
}

func countState(t *testing.T, s delivery.Store, dest string, st delivery.State) int {
	t.Helper()
	n := 0
	for after := ""; ; {
		page, err := s.List(context.Background(), delivery.ListOptions{Destination: dest, State: st, Limit: delivery.MaxPageSize, After: after})
		require.NoError(t, err)
		n += len(page.Records)
		if page.Next == "" {
			return n
		}
		after = page.Next
	}
}

// hundredDestinations enqueues 50 records for each of 100 destinations
// (d000 is "down" and d001 "slow" when bad is set), runs three dispatchers
// of Concurrency 8 for two minutes of fake time, and returns when the
// healthy 98 had all their records.
func hundredDestinations(t *testing.T, bad bool) (*fakePartners, *memstore.Store, time.Duration) {
	store := memstore.New(memstore.Config{})
	partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
		switch dest {
		case "down":
			return 0, errRefused
		case "slow":
			return 2 * time.Second, nil
		}
		return 5 * time.Millisecond, nil
	})
	var msgs []delivery.Message
	for i := range 50 {
		for d := range 100 {
			name := fmt.Sprintf("d%03d", d)
			switch {
			case bad && d == 0:
				name = "down"
			case bad && d == 1:
				name = "slow"
			}
			msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("%s-%02d", name, i), Destination: name, Payload: pl("x")})
		}
	}
	enqueue(t, store, msgs...)
	healthy := func() bool {
		for d := 2; d < 100; d++ {
			if len(partners.received(fmt.Sprintf("d%03d", d))) < 50 {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	wg := runFleet(t, ctx, 3, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 8})
	start := time.Now()
	var drained time.Duration
	for time.Since(start) < 2*time.Minute {
		time.Sleep(10 * time.Millisecond)
		if drained == 0 && healthy() {
			drained = time.Since(start)
		}
	}
	cancel()
	wg.Wait()
	return partners, store, drained
}

// 100 destinations of 50 records, three dispatchers: one destination
// refuses connections, one answers after 2s, the rest in 5ms. Every record
// of the healthy ones is delivered, none of the down one's is
// dead-lettered or spends an attempt, and the down one is asked once per
// pause interval across the whole fleet. The time the healthy 98 take to
// drain, against the same run without the two bad destinations, is logged
// (fake time: the ratio the README reports).
func TestDestinationsDownAndSlowCostTheOthersNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, base := hundredDestinations(t, false)
		partners, store, drained := hundredDestinations(t, true)
		partners.mu.Lock()
		t.Logf("peak in flight: slow %d, d050 %d; slow starts %v", partners.peak["slow"], partners.peak["d050"], partners.starts["slow"])
		partners.mu.Unlock()
		t.Logf("the healthy 98 drained in %v of fake time, %v without the two bad destinations: %.2fx", drained, base, float64(drained)/float64(base))

		for d := 2; d < 100; d++ {
			name := fmt.Sprintf("d%03d", d)
			assert.Len(t, partners.received(name), 50, "every record of the healthy 98 is delivered: %s", name)
		}
		assert.Len(t, partners.received("slow"), 50, "the slow one too, in its own time")
		assert.Zero(t, countState(t, store, "down", delivery.StateDead), "no record of the down destination is dead-lettered")
		page, err := store.List(context.Background(), delivery.ListOptions{Destination: "down", Limit: delivery.MaxPageSize})
		require.NoError(t, err)
		for _, r := range page.Records {
			assert.Zero(t, r.Attempts, "%s spent an attempt", r.ID)
		}
		// Pauses of 5s, 15s, 45s (DefaultPauseBackoff), each from the
		// failure before it: one probe each, after the first requests at 0
		// (at most one per dispatcher, before any of them paused it). A
		// probe goes out when its pause has ended and a worker is free: by
		// then the slow partner alone may hold every worker, so it can wait
		// up to one of the slow partner's attempts (2s), never longer.
		reqs := partners.requests("down")
		t.Logf("requests to the down destination at %v", reqs)
		var first, later []time.Duration
		for _, at := range reqs {
			if at < time.Second {
				first = append(first, at)
			} else {
				later = append(later, at)
			}
		}
		require.NotEmpty(t, first, "the down destination was asked before it was paused")
		assert.LessOrEqual(t, len(first), 3, "before the first pause: at most one request per dispatcher")
		require.Len(t, later, 3, "one probe per pause interval across the fleet")
		const slowAttempt = 2 * time.Second
		earliest, latest := first[0], first[len(first)-1] // the failure that paused it
		for i, pause := range []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second} {
			assert.GreaterOrEqual(t, later[i], earliest+pause, "probe %d: not before its pause ends", i)
			assert.LessOrEqual(t, later[i], latest+pause+slowAttempt, "probe %d: no later than one slow attempt after its pause ends", i)
			earliest, latest = later[i], later[i]
		}
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		for _, d := range ds {
			if d.Name == "down" {
				assert.Equal(t, delivery.DestinationPaused, d.Status)
				assert.Equal(t, "conn_refused", d.Cause, "the pause names its cause")
			}
		}
	})
}

// A 429 with Retry-After: 30 on one record of destination x pauses x for
// every dispatcher: nothing is sent to x for 30s once the records already
// in hand at that moment are done, and the rest drains after.
func TestRetryAfterPausesTheDestinationForTheFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		var throttledAt time.Time
		var mu sync.Mutex
		partners := newFakePartners(func(dest string, _ *delivery.Message, now time.Time) (time.Duration, error) {
			mu.Lock()
			defer mu.Unlock()
			if dest == "x" && (throttledAt.IsZero() || now.Sub(throttledAt) < 30*time.Second) {
				if throttledAt.IsZero() {
					throttledAt = now
				}
				return 10 * time.Millisecond, &classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: 30 * time.Second}
			}
			return 10 * time.Millisecond, nil
		})
		for i := range 30 {
			enqueue(t, store,
				delivery.Message{ID: fmt.Sprintf("x-%02d", i), Destination: "x", Payload: pl("x")},
				delivery.Message{ID: fmt.Sprintf("y-%02d", i), Destination: "y", Payload: pl("y")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 3, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4})
		time.Sleep(2 * time.Minute)
		cancel()
		wg.Wait()

		var during []time.Duration
		for _, at := range partners.requests("x") {
			if at >= time.Second && at < 30*time.Second {
				during = append(during, at)
			}
		}
		assert.Empty(t, during, "nothing is sent to x while it is paused")
		assert.Len(t, partners.received("x"), 30, "x drains once the pause ends")
		assert.Len(t, partners.received("y"), 30)
		for _, id := range []string{"x-00", "x-01", "x-29"} {
			r := get(t, store, id)
			assert.Equal(t, delivery.StateDelivered, r.State)
			assert.LessOrEqual(t, r.Attempts, 1, "a 429 spends no attempt of the record")
		}
	})
}

// MaxInFlight 4 over three dispatchers of Concurrency 16: the partner never
// sees more than 4 requests at once.
func TestMaxInFlightHoldsAcrossDispatchers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			return 100 * time.Millisecond, nil
		})
		for i := range 200 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("x-%03d", i), Destination: "x", Payload: pl("x")},
				delivery.Message{ID: fmt.Sprintf("y-%03d", i), Destination: "y", Payload: pl("y")})
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 3, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 16,
			Destinations: map[string]delivery.DestinationConfig{"x": {MaxInFlight: 4}}})
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		assert.Len(t, partners.received("x"), 200)
		assert.Len(t, partners.received("y"), 200)
		partners.mu.Lock()
		defer partners.mu.Unlock()
		assert.Equal(t, 4, partners.peak["x"], "x never sees more than its MaxInFlight")
		assert.Greater(t, partners.peak["y"], 4, "y is not bound by x's limit")
	})
}

// One event per Key fanned out to three destinations; c is down for the
// first 3s. a and b drain as fast as without the outage, and every
// destination receives each key's records in enqueue order.
func TestFanOutUnderOneKeyNeverWaitsForTheSlowest(t *testing.T) {
	drain := func(t *testing.T, outage time.Duration) (ab time.Duration, partners *fakePartners, store *memstore.Store) {
		store = memstore.New(memstore.Config{})
		start := time.Now()
		partners = newFakePartners(func(dest string, _ *delivery.Message, now time.Time) (time.Duration, error) {
			if dest == "c" && now.Sub(start) < outage {
				return 0, errRefused
			}
			return 5 * time.Millisecond, nil
		})
		for i := range 200 {
			for part := range 2 {
				for _, dest := range []string{"a", "b", "c"} {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("%s-%03d-%d", dest, i, part), Destination: dest,
						Key: fmt.Sprintf("event-%03d", i), Payload: pl("x")})
				}
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 8})
		for len(partners.received("a")) < 400 || len(partners.received("b")) < 400 {
			time.Sleep(time.Millisecond)
		}
		ab = time.Since(start)
		time.Sleep(time.Minute)
		cancel()
		wg.Wait()
		return ab, partners, store
	}
	synctest.Test(t, func(t *testing.T) {
		base, _, _ := drain(t, 0)
		withOutage, partners, _ := drain(t, 3*time.Second)
		t.Logf("a and b drained in %v without the outage, %v with c down for 3s", base, withOutage)
		assert.LessOrEqual(t, float64(withOutage), 1.2*float64(base), "the healthy destinations are not held by c")
		for _, dest := range []string{"a", "b", "c"} {
			got := partners.received(dest)
			require.Len(t, got, 400, dest)
			seen := map[string]bool{}
			for _, id := range got {
				var i, part int
				_, err := fmt.Sscanf(id[2:], "%03d-%d", &i, &part)
				require.NoError(t, err)
				key := fmt.Sprint(i)
				if part == 1 {
					assert.True(t, seen[key], "%s: %s before its key's first record", dest, id)
				}
				seen[key] = true
			}
		}
	})
}

// A certificate that is expired for the first minute and a name that
// answers NXDOMAIN for a while: nothing is dead-lettered, no attempt is
// spent while paused, the pause names the cause, and everything is
// delivered once the partner is fixed.
func TestCertificateAndDNSFailuresPauseInsteadOfFailing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		cause string
	}{
		{"expired certificate", errExpired, "tls_cert"},
		{"NXDOMAIN", errNXDOMAIN, "dns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := memstore.New(memstore.Config{})
				start := time.Now()
				partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
					if time.Since(start) < time.Minute {
						return 0, tc.err
					}
					return time.Millisecond, nil
				})
				var obs recordingObserver
				var destEvents []delivery.DestinationEvent
				var mu sync.Mutex
				for i := range 20 {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%02d", i), Destination: "partner", Payload: pl("x")})
				}
				ctx, cancel := context.WithCancel(context.Background())
				d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4,
					Observer: delivery.Observers(&obs, destinationRecorder(func(e delivery.DestinationEvent) {
						mu.Lock()
						destEvents = append(destEvents, e)
						mu.Unlock()
					}))})
				done := make(chan struct{})
				go func() { _ = d.Run(ctx); close(done) }()

				time.Sleep(30 * time.Second)
				ds, err := store.Destinations(context.Background())
				require.NoError(t, err)
				require.Len(t, ds, 1)
				assert.Equal(t, delivery.DestinationPaused, ds[0].Status)
				assert.Equal(t, tc.cause, ds[0].Cause)
				assert.Zero(t, countState(t, store, "partner", delivery.StateDead))

				time.Sleep(5 * time.Minute)
				cancel()
				<-done
				assert.Len(t, partners.received("partner"), 20, "everything is delivered once the partner is fixed")
				for i := range 20 {
					r := get(t, store, fmt.Sprintf("r-%02d", i))
					assert.Equal(t, delivery.StateDelivered, r.State)
					assert.Equal(t, 1, r.Attempts, "only the successful attempt counts")
				}
				mu.Lock()
				defer mu.Unlock()
				require.NotEmpty(t, destEvents)
				assert.Equal(t, delivery.DestinationPausedChange, destEvents[0].Change)
				assert.Equal(t, tc.cause, destEvents[0].Cause)
				assert.Equal(t, delivery.DestinationResumedChange, destEvents[len(destEvents)-1].Change, "the probe's success resumes it")
			})
		})
	}
}

// 410 Gone disables the destination until a person resumes it; the record
// waits and nothing more is sent.
func TestGoneDisablesUntilResumed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		gone := true
		var mu sync.Mutex
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			mu.Lock()
			defer mu.Unlock()
			if gone {
				return 0, &classify.Error{Class: classify.ClassPermanent, Status: 410}
			}
			return 0, nil
		})
		for i := range 5 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("r-%d", i), Destination: "hook", Payload: pl("x")})
		}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners})
		for range 3 {
			_, err := d.RunOnce(context.Background())
			require.NoError(t, err)
			time.Sleep(time.Hour)
		}
		assert.Len(t, partners.requests("hook"), 1, "one 410, then nothing")
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, delivery.DestinationDisabled, ds[0].Status)
		assert.Equal(t, "gone", ds[0].Cause)
		assert.EqualValues(t, 5, ds[0].Pending, "no record lost or dead-lettered")

		mu.Lock()
		gone = false
		mu.Unlock()
		require.NoError(t, store.ResumeDestination(context.Background(), "hook"))
		_, err = d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Len(t, partners.received("hook"), 5, "resume restores")
	})
}

// Records of a destination the dispatcher has no configuration for are not
// sent blindly and not lost: the destination is paused with cause
// "unconfigured", visible to operators, and the records wait.
func TestUnconfiguredDestinationWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) { return 0, nil })
		enqueue(t, store,
			delivery.Message{ID: "a-1", Destination: "ats", Payload: pl("x")},
			delivery.Message{ID: "u-1", Destination: "unknown", Payload: pl("x")})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store,
			Destinations: map[string]delivery.DestinationConfig{"ats": {Deliverer: partners}}})
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Delivered)
		assert.Equal(t, 1, rep.Deferred)
		assert.Empty(t, partners.requests("unknown"))
		r := get(t, store, "u-1")
		assert.Equal(t, delivery.StatePending, r.State)
		assert.Zero(t, r.Attempts)
		ds, err := store.Destinations(context.Background())
		require.NoError(t, err)
		for _, d := range ds {
			if d.Name == "unknown" {
				assert.Equal(t, delivery.DestinationPaused, d.Status)
				assert.Equal(t, "unconfigured", d.Cause)
			}
		}
	})
}

// Per-destination pipelines: each destination's records go through its own
// Deliverer and Policy; Resolve configures the rest, once each.
func TestDestinationPipelines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		var mu sync.Mutex
		calls := map[string][]string{}
		sender := func(name string) delivery.Deliverer {
			return delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
				mu.Lock()
				defer mu.Unlock()
				calls[name] = append(calls[name], m.ID)
				return nil
			})
		}
		resolved := map[string]int{}
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sender("default"),
			Destinations: map[string]delivery.DestinationConfig{"ats": {Deliverer: sender("ats")}},
			Resolve: func(name string) (delivery.DestinationConfig, bool) {
				mu.Lock()
				resolved[name]++
				mu.Unlock()
				if name == "crm" {
					return delivery.DestinationConfig{Deliverer: sender("crm")}, true
				}
				return delivery.DestinationConfig{}, false
			}})
		enqueue(t, store,
			delivery.Message{ID: "a", Destination: "ats", Payload: pl("a")},
			delivery.Message{ID: "c1", Destination: "crm", Payload: pl("c")},
			delivery.Message{ID: "c2", Destination: "crm", Payload: pl("c")},
			delivery.Message{ID: "o", Destination: "other", Payload: pl("o")})
		_, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{"ats": {"a"}, "crm": {"c1", "c2"}, "default": {"o"}}, calls)
		assert.Equal(t, map[string]int{"crm": 1, "other": 1}, resolved, "resolved once per destination")
	})
}

func TestDispatcherConfigDestinationsBadInput(t *testing.T) {
	store := memstore.New(memstore.Config{})
	ok := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
	for _, tc := range []struct {
		name string
		cfg  delivery.DispatcherConfig
		want string
	}{
		{"no deliverer anywhere", delivery.DispatcherConfig{Store: store}, "Deliverer is required"},
		{"negative MaxInFlight", delivery.DispatcherConfig{Store: store, Deliverer: ok,
			Destinations: map[string]delivery.DestinationConfig{"x": {MaxInFlight: -1}}}, "MaxInFlight"},
		{"destination without a deliverer", delivery.DispatcherConfig{Store: store,
			Destinations: map[string]delivery.DestinationConfig{"x": {}}}, `Destinations["x"] has no Deliverer`},
		{"name with NUL", delivery.DispatcherConfig{Store: store, Deliverer: ok,
			Destinations: map[string]delivery.DestinationConfig{"a\x00b": {}}}, "NUL"},
		{"negative MaxPause", delivery.DispatcherConfig{Store: store, Deliverer: ok, MaxPause: -time.Second}, "MaxPause"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := delivery.NewDispatcher(tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// destinationRecorder is an Observer that only sees destination changes.
type destinationRecorder func(delivery.DestinationEvent)

func (destinationRecorder) ObserveAttempt(context.Context, delivery.AttemptEvent) {}
func (destinationRecorder) ObserveRun(context.Context, delivery.Report)           {}
func (f destinationRecorder) ObserveDestination(_ context.Context, e delivery.DestinationEvent) {
	f(e)
}

// A partner over its rate limit never delays another's records: its
// destination is not claimed while it has no token, so no worker waits in
// its limiter while the other partner has due work.
func TestRateLimitedDestinationDelaysNoOther(t *testing.T) {
	drain := func(t *testing.T, withCRM bool) time.Duration {
		store := memstore.New(memstore.Config{})
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			return 5 * time.Millisecond, nil
		})
		for i := range 200 {
			enqueue(t, store, delivery.Message{ID: fmt.Sprintf("ats-%03d", i), Destination: "ats", Payload: pl("x")})
			if withCRM {
				enqueue(t, store, delivery.Message{ID: fmt.Sprintf("crm-%03d", i), Destination: "crm", Payload: pl("x")})
			}
		}
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 8,
			Destinations: map[string]delivery.DestinationConfig{"crm": {RateLimit: rate.NewLimiter(5, 1)}}})
		for len(partners.received("ats")) < 200 {
			time.Sleep(time.Millisecond)
		}
		took := time.Since(start)
		cancel()
		wg.Wait()
		if withCRM {
			partners.mu.Lock()
			assert.LessOrEqual(t, partners.peak["crm"], 1, "crm is paced, one at a time")
			partners.mu.Unlock()
		}
		return took
	}
	synctest.Test(t, func(t *testing.T) {
		alone := drain(t, false)
		beside := drain(t, true)
		t.Logf("ats drained in %v alone, %v beside a crm limited to 5/s", alone, beside)
		assert.LessOrEqual(t, float64(beside), 1.2*float64(alone), "the limited partner costs ats nothing")
	})
}

// A partner down for 5s under a steady stream of records, with the default
// retry policy and a health gate probing every second: every record held
// back by the pause is delivered within one probe interval of recovery;
// none waits a retry backoff.
func TestRecordsHeldByAPauseGoWhenItEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		const downFor, probeEvery = 5 * time.Second, time.Second
		up := func() bool { return time.Since(start) >= downFor }
		monitor, err := health.NewMonitor(health.MonitorConfig{Name: "partner", Interval: probeEvery,
			FailureThreshold: 1, SuccessThreshold: 1,
			Checker: health.CheckerFunc(func(context.Context) error {
				if !up() {
					return errors.New("partner down")
				}
				return nil
			})})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		require.NoError(t, monitor.Start(ctx))
		defer monitor.Stop()
		partners := newFakePartners(func(string, *delivery.Message, time.Time) (time.Duration, error) {
			if !up() {
				return 0, errRefused
			}
			return time.Millisecond, nil
		})
		store := memstore.New(memstore.Config{})
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: partners, Gate: monitor, Concurrency: 4})
		done := make(chan struct{})
		go func() { _ = d.Run(ctx); close(done) }()

		enqueued := map[string]time.Duration{}
		for i := range 50 { // 5 records a second for 10s
			id := fmt.Sprintf("r-%02d", i)
			enqueue(t, store, delivery.Message{ID: id, Destination: "partner", Payload: pl(id)})
			enqueued[id] = time.Since(start)
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		cancel()
		<-done

		partners.mu.Lock()
		defer partners.mu.Unlock()
		require.Len(t, partners.got["partner"], 50)
		for id, at := range enqueued {
			r := get(t, store, id)
			require.Equal(t, delivery.StateDelivered, r.State, id)
			deliveredAt := r.UpdatedAt.Sub(start)
			assert.LessOrEqual(t, deliveredAt, max(at, downFor)+probeEvery+100*time.Millisecond,
				"%s enqueued at %v delivered at %v", id, at, deliveredAt)
			assert.Equal(t, 1, r.Attempts, "%s: the outage spent no attempt", id)
		}
	})
}

// A resolved configuration that cannot run (a typed nil Deliverer, an
// invalid Policy) or a Resolve that panics leaves the destination
// unconfigured: its records wait, none is dead-lettered.
func TestResolveThatCannotRunLeavesRecordsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memstore.New(memstore.Config{})
		var nilSender *fakePartners
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store,
			Resolve: func(name string) (delivery.DestinationConfig, bool) {
				switch name {
				case "nil-deliverer":
					return delivery.DestinationConfig{Deliverer: nilSender}, true
				case "bad-policy":
					return delivery.DestinationConfig{Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
						Policy: &retry.Policy{MaxAttempts: -1}}, true
				}
				panic("resolver bug")
			}})
		for _, dest := range []string{"nil-deliverer", "bad-policy", "panics"} {
			enqueue(t, store, delivery.Message{ID: dest, Destination: dest, Payload: pl(dest)})
		}
		rep, err := d.RunOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 3, rep.Deferred)
		for _, id := range []string{"nil-deliverer", "bad-policy", "panics"} {
			r := get(t, store, id)
			assert.Equal(t, delivery.StatePending, r.State, id)
			assert.Zero(t, r.Attempts, id)
		}
	})
}
