package failover_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failover"
	"github.com/outbound-go/outbound/health"
)

func TestPrimaryRefusingConnectionsMovesTrafficAtOnce(t *testing.T) {
	primary, secondary := &fakeChannel{}, &fakeChannel{}
	primary.set(refused)
	var log switchLog
	f := newSet(t, failover.Config{
		Name:     "partner",
		Channels: []failover.Channel{{Name: "primary", Deliverer: primary}, {Name: "secondary", Deliverer: secondary}},
		OnSwitch: log.add,
	})

	for i := range 10 {
		require.NoError(t, f.Deliver(context.Background(), msg(fmt.Sprint("m", i))))
	}
	assert.Equal(t, 1, primary.count(), "only the first message met the refusing primary")
	assert.Equal(t, 10, secondary.count(), "the first message moved on within its own Deliver")
	assert.Equal(t, "secondary", f.Active())
	switches := log.all()
	require.Len(t, switches, 1)
	assert.Equal(t, failover.Switch{Set: "partner", From: "primary", To: "secondary", Cause: "conn_refused",
		Err: switches[0].Err, At: switches[0].At}, switches[0])
	assert.ErrorContains(t, switches[0].Err, "connection refused")
}

func TestPartnerAnswersDoNotFailOver(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		class classify.Class
	}{
		{"400", &classify.Error{Class: classify.ClassPermanent, Status: 400, Body: `{"error":"bad zip"}`}, classify.ClassPermanent},
		{"422 discard", &classify.Error{Class: classify.ClassDiscard, Status: 422}, classify.ClassDiscard},
		{"503 is the breaker's to judge", &classify.Error{Class: classify.ClassEphemeral, Status: 503}, classify.ClassEphemeral},
		{"429", &classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: time.Second}, classify.ClassEphemeral},
		{"permanent without status", classify.Permanent(errors.New("cannot build request")), classify.ClassPermanent},
		{"timeout awaiting a response", context.DeadlineExceeded, classify.ClassEphemeral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			primary, secondary := &fakeChannel{}, &fakeChannel{}
			primary.set(func() error { return tc.err })
			var log switchLog
			f := newSet(t, failover.Config{
				Channels: []failover.Channel{{Name: "primary", Deliverer: primary}, {Name: "secondary", Deliverer: secondary}},
				OnSwitch: log.add,
			})
			for range 5 {
				err := f.Deliver(context.Background(), msg("m"))
				require.Error(t, err)
				assert.Equal(t, tc.class, classify.Of(err))
				assert.Equal(t, classify.Status(tc.err), classify.Status(err), "status kept")
				assert.Equal(t, "primary", failover.ChannelOf(err))
				assert.Contains(t, err.Error(), `failover: channel "primary": `)
			}
			assert.Zero(t, secondary.count(), "the secondary never saw the record")
			assert.Empty(t, log.all())
			assert.Equal(t, "primary", f.Active())
		})
	}
}

func TestMonitorDownMovesTrafficWithinOneInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var down sync.Mutex
		outage := false
		isDown := func() bool { down.Lock(); defer down.Unlock(); return outage }
		const interval = time.Second
		monitor, err := health.NewMonitor(health.MonitorConfig{
			Name: "primary", Interval: interval, Timeout: 100 * time.Millisecond, FailureThreshold: 1,
			Checker: health.CheckerFunc(func(context.Context) error {
				if isDown() {
					return errors.New("health: 503")
				}
				return nil
			}),
		})
		require.NoError(t, err)
		require.NoError(t, monitor.Start(t.Context()))
		defer monitor.Stop()

		primary, secondary := &fakeChannel{}, &fakeChannel{}
		// The primary answers 503: an answer, which alone moves nothing.
		primary.set(func() error {
			if isDown() {
				return &classify.Error{Class: classify.ClassEphemeral, Status: 503}
			}
			return nil
		})
		var log switchLog
		f := newSet(t, failover.Config{
			Channels: []failover.Channel{{Name: "primary", Deliverer: primary, Gate: monitor}, {Name: "secondary", Deliverer: secondary}},
			OnSwitch: log.add,
		})
		send := func() error { return f.Deliver(t.Context(), msg("m")) }
		for range 50 {
			require.NoError(t, send())
			time.Sleep(10 * time.Millisecond)
		}
		down.Lock()
		outage = true
		began := time.Now()
		down.Unlock()
		var last503 time.Time
		for time.Since(began) < 3*interval {
			if err := send(); err != nil {
				assert.Equal(t, 503, classify.Status(err))
				last503 = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
		require.Len(t, log.all(), 1)
		sw := log.all()[0]
		assert.Equal(t, "health_down", sw.Cause)
		assert.LessOrEqual(t, sw.At.Sub(began), interval+100*time.Millisecond, "moved within one monitor interval")
		assert.Less(t, last503.Sub(began), interval+100*time.Millisecond)
		assert.Equal(t, "secondary", f.Active())
	})
}

func TestOpenBreakerMovesTraffic(t *testing.T) {
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "primary", ConsecutiveFailures: 3})
	require.NoError(t, err)
	primary, secondary := &fakeChannel{}, &fakeChannel{}
	primary.set(func() error { return &classify.Error{Class: classify.ClassEphemeral, Status: 503} })
	var log switchLog
	f := newSet(t, failover.Config{
		Channels: []failover.Channel{{Name: "primary", Deliverer: primary, Breaker: breaker}, {Name: "secondary", Deliverer: secondary}},
		OnSwitch: log.add,
	})
	var classes []classify.Class
	for range 6 {
		classes = append(classes, classify.Of(f.Deliver(context.Background(), msg("m"))))
	}
	assert.Equal(t, []classify.Class{classify.ClassEphemeral, classify.ClassEphemeral, classify.ClassEphemeral,
		classify.ClassOK, classify.ClassOK, classify.ClassOK}, classes, "three 503s open the breaker; then the secondary")
	assert.Equal(t, 3, primary.count())
	require.Len(t, log.all(), 1)
	assert.Equal(t, "breaker_open", log.all()[0].Cause)
}

// TestFlappingPrimary flaps the primary every 200ms for 10s, with one
// message every 10ms, and a return hold of 2s: the documented bound is
// 2*floor(10s/2s)+1 = 11 switches.
func TestFlappingPrimary(t *testing.T) {
	const (
		flapFor = 10 * time.Second
		period  = 200 * time.Millisecond
		hold    = 2 * time.Second
		check   = 100 * time.Millisecond
		bound   = 2*int(flapFor/hold) + 1
	)
	for _, tc := range []struct {
		name      string
		gateSees  bool // the health gate sees the flaps, or always says up
		wantExact int  // switches during the flapping, when known exactly
	}{
		{name: "health sees the flaps", gateSees: true, wantExact: 1},
		{name: "health says up throughout", gateSees: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				down := func() bool {
					el := time.Since(start)
					return el < flapFor && (el/period)%2 == 1
				}
				primary, secondary := &fakeChannel{}, &fakeChannel{}
				primary.set(func() error {
					if down() {
						return refused()
					}
					return nil
				})
				gate := delivery.GateFunc(func(context.Context) error {
					if tc.gateSees && down() {
						return classify.Unavailable(errors.New("primary is down"))
					}
					return nil
				})
				var log switchLog
				var usedMu sync.Mutex
				type use struct {
					at      time.Duration
					channel string
				}
				var used []use
				f := newSet(t, failover.Config{
					Channels: []failover.Channel{
						{Name: "primary", Deliverer: primary, Gate: gate},
						{Name: "secondary", Deliverer: secondary},
					},
					ReturnHold:    hold,
					ReturnChecks:  3,
					CheckInterval: check,
					OnSwitch:      log.add,
					OnSend: func(_ context.Context, s failover.Send) {
						if s.Err == nil {
							usedMu.Lock()
							used = append(used, use{time.Since(start), s.Channel})
							usedMu.Unlock()
						}
					},
				})
				for time.Since(start) < flapFor+2*hold {
					require.NoError(t, f.Deliver(t.Context(), msg("m")), "no message fails: the secondary is healthy")
					time.Sleep(10 * time.Millisecond)
				}

				switches := log.all()
				var during int
				for i, s := range switches {
					el := s.At.Sub(start)
					if el < flapFor {
						during++
					}
					if s.Cause == failover.CauseRecovered {
						require.Positive(t, i)
						assert.GreaterOrEqual(t, s.At.Sub(switches[i-1].At), hold+check,
							"a return comes at least the hold after the primary was left")
					}
				}
				t.Logf("%d switches during %v of flapping (bound %d)", during, flapFor, bound)
				assert.LessOrEqual(t, during, bound)
				if tc.wantExact > 0 {
					assert.Equal(t, tc.wantExact, during)
				}
				// Traffic is back on the primary, and got there only after the
				// hold had passed since the flapping ended.
				assert.Equal(t, "primary", f.Active())
				last := switches[len(switches)-1]
				assert.Equal(t, failover.CauseRecovered, last.Cause)
				if tc.gateSees {
					assert.GreaterOrEqual(t, last.At.Sub(start), flapFor+hold)
					assert.LessOrEqual(t, last.At.Sub(start), flapFor+hold+check+10*time.Millisecond)
				}
				for _, u := range used {
					if u.at >= period && u.at < last.At.Sub(start) && tc.gateSees {
						assert.Equal(t, "secondary", u.channel, "no traffic on the primary at %v, before the hysteresis", u.at)
					}
				}
			})
		})
	}
}

func TestReturnNeedsChecksAndHold(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checks     int
		hold       time.Duration
		wantReturn time.Duration // after the primary comes back
	}{
		{"hold dominates", 3, 5 * time.Second, 5 * time.Second},
		{"checks dominate", 10, time.Second, 9 * time.Second}, // 10 checks a second apart span 9s
		{"defaults", 0, 0, failover.DefaultReturnHold},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				primary, secondary := &fakeChannel{}, &fakeChannel{}
				var mu sync.Mutex
				up := false
				gate := delivery.GateFunc(func(context.Context) error {
					mu.Lock()
					defer mu.Unlock()
					if !up {
						return classify.Unavailable(errors.New("down"))
					}
					return nil
				})
				var log switchLog
				f := newSet(t, failover.Config{
					Channels:     []failover.Channel{{Name: "primary", Deliverer: primary, Gate: gate}, {Name: "secondary", Deliverer: secondary}},
					ReturnChecks: tc.checks, ReturnHold: tc.hold, CheckInterval: time.Second,
					OnSwitch: log.add,
				})
				require.NoError(t, f.Deliver(t.Context(), msg("m")))
				require.Equal(t, "secondary", f.Active())
				time.Sleep(5 * time.Second)
				mu.Lock()
				up = true
				mu.Unlock()
				cameBack := time.Now()
				for f.Active() != "primary" && time.Since(cameBack) < time.Hour {
					require.NoError(t, f.Deliver(t.Context(), msg("m")))
					time.Sleep(100 * time.Millisecond)
				}
				require.Len(t, log.all(), 2)
				took := log.all()[1].At.Sub(cameBack)
				assert.GreaterOrEqual(t, took, tc.wantReturn)
				assert.LessOrEqual(t, took, tc.wantReturn+time.Second+100*time.Millisecond, "within a check interval of the hysteresis")
			})
		})
	}
}

func TestLeftChannelIsTheLastResort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		primary, secondary := &fakeChannel{}, &fakeChannel{}
		primary.set(refused)
		var log switchLog
		f := newSet(t, failover.Config{
			Channels: []failover.Channel{{Name: "primary", Deliverer: primary}, {Name: "secondary", Deliverer: secondary}},
			OnSwitch: log.add,
		})
		require.NoError(t, f.Deliver(t.Context(), msg("m1")))
		primary.set(nil)
		secondary.set(refused)
		// The primary is back but inside its hold; the secondary fails:
		// the primary carries the message without becoming active.
		require.NoError(t, f.Deliver(t.Context(), msg("m2")))
		assert.Equal(t, []string{"m1", "m2"}, primary.sent)
		assert.Equal(t, "secondary", f.Active())
		assert.Len(t, log.all(), 1)
	})
}

func TestEveryChannelUnusable(t *testing.T) {
	t.Run("all refuse: unavailable with the shortest hint", func(t *testing.T) {
		refuse := func(d time.Duration) delivery.Gate {
			return delivery.GateFunc(func(context.Context) error {
				return classify.WithRetryAfter(classify.Unavailable(errors.New("down")), d)
			})
		}
		a, b := &fakeChannel{}, &fakeChannel{}
		f := newSet(t, failover.Config{Channels: []failover.Channel{
			{Name: "a", Deliverer: a, Gate: refuse(time.Minute)},
			{Name: "b", Deliverer: b, Gate: refuse(10 * time.Second)},
		}})
		err := f.Deliver(context.Background(), msg("m"))
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		hint, ok := classify.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, 10*time.Second, hint)
		var ex *failover.ExhaustedError
		require.ErrorAs(t, err, &ex)
		assert.Len(t, ex.Failures, 2)
		assert.Equal(t, `failover: every channel is unusable: "a": unavailable (retry after 1m0s): unavailable: down; "b": unavailable (retry after 10s): unavailable: down`, ex.Error())
		assert.Zero(t, a.count()+b.count())
	})
	t.Run("a send failed: ephemeral", func(t *testing.T) {
		a, b := &fakeChannel{}, &fakeChannel{}
		a.set(refused)
		b.set(func() error { return &dnsNotFound })
		f := newSet(t, failover.Config{Channels: []failover.Channel{{Name: "a", Deliverer: a}, {Name: "b", Deliverer: b}}})
		err := f.Deliver(context.Background(), msg("m"))
		assert.Equal(t, classify.ClassEphemeral, classify.Of(err))
		assert.Equal(t, "b", failover.ChannelOf(err))
		assert.ErrorContains(t, err, `"a": dial tcp: connect: connection refused`)
		assert.ErrorContains(t, err, `"b": lookup partner.example: no such host`)
	})
}

func TestCallerGivingUpMovesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	primary, secondary := &fakeChannel{}, &fakeChannel{}
	primary.set(func() error { cancel(); return context.Canceled })
	var log switchLog
	f := newSet(t, failover.Config{
		Channels: []failover.Channel{{Name: "primary", Deliverer: primary}, {Name: "secondary", Deliverer: secondary}},
		OnSwitch: log.add,
	})
	err := f.Deliver(ctx, msg("m"))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, secondary.count())
	assert.Empty(t, log.all())
}

func TestConfigErrors(t *testing.T) {
	d := &fakeChannel{}
	for _, tc := range []struct {
		name string
		cfg  failover.Config
		want []string
	}{
		{"no channels", failover.Config{}, []string{"Config.Channels needs at least one channel"}},
		{"bad channels", failover.Config{Channels: []failover.Channel{{Deliverer: d}, {Name: "a"}, {Name: "a", Deliverer: d}}},
			[]string{"Channels[0].Name is empty", `Channels[1] ("a") has no Deliverer`, `Channels[2].Name "a" is used twice`}},
		{"negative", failover.Config{Channels: []failover.Channel{{Name: "a", Deliverer: d}}, ReturnChecks: -1, ReturnHold: -1, CheckInterval: -1},
			[]string{"ReturnChecks", "ReturnHold", "CheckInterval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := failover.New(tc.cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
			assert.ErrorContains(t, err, "failover: ")
		})
	}
	f := newSet(t, failover.Config{Channels: []failover.Channel{{Name: "a", Deliverer: d}}})
	assert.Equal(t, classify.ClassPermanent, classify.Of(f.Deliver(context.Background(), nil)))
}
