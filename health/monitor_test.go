package health_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

const (
	interval = 10 * time.Second
	timeout  = time.Second
)

// changeLog records a monitor's OnChange calls.
type changeLog struct {
	mu      sync.Mutex
	changes []health.Change
}

func (l *changeLog) record(c health.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

func (l *changeLog) transitions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, c := range l.changes {
		out = append(out, c.From.String()+"->"+c.To.String())
	}
	return out
}

func newMonitor(t *testing.T, c health.Checker, log *changeLog) *health.Monitor {
	t.Helper()
	cfg := health.MonitorConfig{
		Name:             "partner",
		Checker:          c,
		Interval:         interval,
		Timeout:          timeout,
		FailureThreshold: 3,
		SuccessThreshold: 3,
	}
	if log != nil {
		cfg.OnChange = log.record
	}
	m, err := health.NewMonitor(cfg)
	require.NoError(t, err)
	return m
}

// startMonitor starts m's background loop and stops it when the test ends.
func startMonitor(t *testing.T, m *health.Monitor) {
	t.Helper()
	require.NoError(t, m.Start(t.Context()))
	t.Cleanup(m.Stop)
}

// nextProbe advances the fake clock by one interval and lets the probe
// that falls due finish.
func nextProbe() {
	time.Sleep(interval)
	synctest.Wait()
}

func TestMonitorFlappingDestinationNeverChangesState(t *testing.T) {
	for _, firstHealthy := range []bool{true, false} {
		want := map[bool]health.State{true: health.StateUp, false: health.StateDown}[firstHealthy]
		t.Run(want.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				checker := alternating(firstHealthy)
				var log changeLog
				m := newMonitor(t, checker, &log)
				startMonitor(t, m)
				synctest.Wait()
				require.Equal(t, want, m.State(), "the first result decides")

				for range 100 {
					nextProbe()
					require.Equal(t, want, m.State())
				}
				assert.EqualValues(t, 101, checker.calls.Load())
				assert.Equal(t, []string{"unknown->" + want.String()}, log.transitions(),
					"alternating results never reach 3 in a row")
			})
		})
	}
}

func TestMonitorDetectsOutageAfterFailureThresholdAndRecoveryAfterSuccessThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(true)
		var log changeLog
		m := newMonitor(t, checker, &log)
		startMonitor(t, m)
		synctest.Wait()
		require.Equal(t, health.StateUp, m.State())
		for range 5 {
			nextProbe()
		}

		checker.healthy.Store(false)
		for i := 1; i <= 2; i++ {
			nextProbe()
			require.Equal(t, health.StateUp, m.State(), "after %d failed probes", i)
			require.Equal(t, i, m.Snapshot().Failures)
			require.NoError(t, m.Allow(t.Context()), "still up: the gate stays open")
		}
		nextProbe()
		require.Equal(t, health.StateDown, m.State(), "down after exactly 3 failed probes")
		downAt := time.Now()
		snap := m.Snapshot()
		assert.Equal(t, downAt, snap.Since)
		assert.ErrorIs(t, snap.Err, errPartnerDown)

		err := m.Allow(t.Context())
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.ErrorIs(t, err, health.ErrDown)
		assert.ErrorIs(t, err, errPartnerDown, "the cause stays in the chain")
		wait, ok := classify.RetryAfter(err)
		assert.True(t, ok)
		assert.Equal(t, interval, wait, "look again when the background loop probes next")

		checker.healthy.Store(true)
		for i := 1; i <= 2; i++ {
			nextProbe()
			require.Equal(t, health.StateDown, m.State(), "after %d successful probes", i)
		}
		nextProbe()
		require.Equal(t, health.StateUp, m.State(), "up after exactly 3 successful probes")
		assert.NoError(t, m.Allow(t.Context()))

		log.mu.Lock()
		changes := log.changes
		log.mu.Unlock()
		require.Len(t, changes, 3)
		assert.Equal(t, health.Change{Name: "partner", From: health.StateUp, To: health.StateDown,
			Cause: errPartnerDown, At: downAt}, changes[1])
		assert.Equal(t, health.StateUp, changes[2].To)
		assert.NoError(t, changes[2].Cause)
	})
}

func TestMonitorUnknownProbesOnceOnDemandAndFirstResultDecides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(false)
		m := newMonitor(t, checker, nil)
		require.Equal(t, health.StateUnknown, m.State())

		err := m.Allow(t.Context())
		assert.ErrorIs(t, err, health.ErrDown, "a dead partner is refused on the first look, no hysteresis")
		assert.EqualValues(t, 1, checker.calls.Load())

		for range 10 {
			assert.ErrorIs(t, m.Allow(t.Context()), health.ErrDown)
		}
		assert.EqualValues(t, 1, checker.calls.Load(), "a fresh result is not probed again")

		checker.healthy.Store(true)
		time.Sleep(interval + timeout) // the result goes stale
		assert.ErrorIs(t, m.Allow(t.Context()), health.ErrDown, "one success is not enough to come back")
		assert.EqualValues(t, 2, checker.calls.Load(), "a stale result is probed on demand")
	})
}

func TestMonitorConcurrentCallersShareOneProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newBlockingChecker()
		m := newMonitor(t, checker, nil)
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Go(func() { errs[i] = m.Allow(t.Context()) })
		}
		synctest.Wait()
		assert.EqualValues(t, 1, checker.calls.Load())
		close(checker.release)
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		assert.Equal(t, health.StateUp, m.State())
	})
}

func TestMonitorAllowGivesUpWithTheCallersContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newBlockingChecker()
		m := newMonitor(t, checker, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := m.Allow(ctx)
		assert.Equal(t, 100*time.Millisecond, time.Since(start))
		assert.Equal(t, classify.ClassUnavailable, classify.Of(err))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, health.StateUnknown, m.State(), "an abandoned probe says nothing about the partner")
		assert.True(t, m.Snapshot().CheckedAt.IsZero())
	})
}

func TestMonitorTimeoutIsAFailedProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := newMonitor(t, newBlockingChecker(), nil)
		start := time.Now()
		err := m.Allow(t.Context())
		assert.Equal(t, timeout, time.Since(start), "bounded by MonitorConfig.Timeout")
		assert.ErrorIs(t, err, health.ErrDown)
		assert.ErrorIs(t, m.Snapshot().Err, context.DeadlineExceeded)
	})
}

func TestMonitorWaiterTakesOverWhenTheLeaderGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newBlockingChecker()
		m := newMonitor(t, checker, nil)
		leaderCtx, cancelLeader := context.WithCancel(t.Context())
		leaderDone := make(chan error)
		go func() { leaderDone <- m.Allow(leaderCtx) }()
		synctest.Wait()
		waiterDone := make(chan error)
		go func() { waiterDone <- m.Allow(t.Context()) }()
		synctest.Wait()
		require.EqualValues(t, 1, checker.calls.Load())

		cancelLeader()
		assert.ErrorIs(t, <-leaderDone, context.Canceled)
		synctest.Wait()
		assert.EqualValues(t, 2, checker.calls.Load(), "the waiter probes again")
		close(checker.release)
		assert.NoError(t, <-waiterDone)
	})
}

func TestMonitorBackgroundProbesDoNotDoubleUpWithOnDemandProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(true)
		m := newMonitor(t, checker, nil)
		require.NoError(t, m.Check(t.Context()))
		time.Sleep(interval / 2)
		startMonitor(t, m)
		synctest.Wait()
		assert.EqualValues(t, 1, checker.calls.Load(), "the result is only half an interval old")
		time.Sleep(interval / 2)
		synctest.Wait()
		assert.EqualValues(t, 2, checker.calls.Load())
	})
}

func TestMonitorStopEndsTheLoopAndARunningProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newBlockingChecker()
		m := newMonitor(t, checker, nil)
		require.NoError(t, m.Start(t.Context()))
		assert.ErrorContains(t, m.Start(t.Context()), "already started")
		synctest.Wait()
		require.EqualValues(t, 1, checker.calls.Load(), "probing at once")

		m.Stop()
		m.Stop() // idempotent
		assert.Equal(t, health.StateUnknown, m.State(), "a probe cut short by Stop is not a failure")
		time.Sleep(10 * interval)
		assert.EqualValues(t, 1, checker.calls.Load(), "no probes after Stop")

		close(checker.release)
		require.NoError(t, m.Start(t.Context()), "a stopped monitor starts again")
		synctest.Wait()
		assert.Equal(t, health.StateUp, m.State())
		m.Stop()
	})
}

func TestMonitorLoopEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(true)
		m := newMonitor(t, checker, nil)
		ctx, cancel := context.WithCancel(t.Context())
		require.NoError(t, m.Start(ctx))
		synctest.Wait()
		cancel()
		synctest.Wait()
		time.Sleep(10 * interval)
		assert.EqualValues(t, 1, checker.calls.Load())
		m.Stop()
	})
}

func TestMonitorCheckerPanicIsAFailure(t *testing.T) {
	m := newMonitor(t, health.CheckerFunc(func(context.Context) error { panic("boom") }), nil)
	err := m.Check(t.Context())
	assert.ErrorContains(t, err, "checker panicked: boom")
	assert.Equal(t, health.StateDown, m.State())
}

func TestMonitorOnChangeMayUseTheMonitor(t *testing.T) {
	var m *health.Monitor
	var seen []health.State
	m, err := health.NewMonitor(health.MonitorConfig{
		Name:    "partner",
		Checker: newFakeChecker(true),
		OnChange: func(c health.Change) {
			seen = append(seen, m.State())
			_ = m.Snapshot()
			assert.NoError(t, m.Allow(context.Background()))
		},
	})
	require.NoError(t, err)
	require.NoError(t, m.Allow(t.Context()))
	assert.Equal(t, []health.State{health.StateUp}, seen, "the new state is visible to the hook")
}

func TestNewMonitorValidates(t *testing.T) {
	ok := newFakeChecker(true)
	tests := []struct {
		cfg  health.MonitorConfig
		want string
	}{
		{health.MonitorConfig{Checker: ok}, "MonitorConfig.Name"},
		{health.MonitorConfig{Name: "p"}, "MonitorConfig.Checker"},
		{health.MonitorConfig{Name: "p", Checker: ok, Interval: -1}, "MonitorConfig.Interval"},
		{health.MonitorConfig{Name: "p", Checker: ok, Timeout: -1}, "MonitorConfig.Timeout"},
		{health.MonitorConfig{Name: "p", Checker: ok, TTL: -1}, "MonitorConfig.TTL"},
		{health.MonitorConfig{Name: "p", Checker: ok, FailureThreshold: -1}, "MonitorConfig.FailureThreshold"},
		{health.MonitorConfig{Name: "p", Checker: ok, SuccessThreshold: -1}, "MonitorConfig.SuccessThreshold"},
	}
	for _, tt := range tests {
		_, err := health.NewMonitor(tt.cfg)
		assert.ErrorContains(t, err, tt.want)
		assert.ErrorContains(t, err, "health: ")
	}
}

func TestMonitorDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		checker := newFakeChecker(true)
		m, err := health.NewMonitor(health.MonitorConfig{Name: "p", Checker: checker})
		require.NoError(t, err)
		startMonitor(t, m)
		synctest.Wait()
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		assert.EqualValues(t, 2, checker.calls.Load(), "probes every DefaultInterval")
		checker.healthy.Store(false)
		for range health.DefaultFailureThreshold - 1 {
			time.Sleep(health.DefaultInterval)
			synctest.Wait()
		}
		assert.Equal(t, health.StateUp, m.State())
		time.Sleep(health.DefaultInterval)
		synctest.Wait()
		assert.Equal(t, health.StateDown, m.State())
		err = m.Allow(t.Context())
		wait, _ := classify.RetryAfter(err)
		assert.Equal(t, health.DefaultInterval, wait, "look again at the loop's next probe")

		// Without the loop, a result stays fresh for the TTL, which
		// defaults to Interval+Timeout; then Allow probes on demand.
		m.Stop()
		calls := checker.calls.Load()
		time.Sleep(health.DefaultInterval + health.DefaultTimeout - time.Nanosecond)
		require.Error(t, m.Allow(t.Context()))
		assert.Equal(t, calls, checker.calls.Load(), "still fresh: no probe")
		time.Sleep(time.Nanosecond)
		require.Error(t, m.Allow(t.Context()))
		assert.Equal(t, calls+1, checker.calls.Load(), "stale after Interval+Timeout: one probe on demand")
	})
}

func TestDownErrorRedactsItsCause(t *testing.T) {
	err := &health.DownError{
		Name:  "partner",
		Since: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Cause: errors.New(`Get "https://partner.example/health?api_key=hunter2": connection refused`),
	}
	assert.Equal(t, `health: "partner" is down since 2025-01-02T03:04:05Z: Get "https://partner.example/health?[redacted]": connection refused`, err.Error())
	assert.ErrorIs(t, err, health.ErrDown)
}
