package health_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/health"
)

func TestStartupNamesEveryFailureWithinTheTimeoutEvenIfOneHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errDB := errors.New("connection refused")
		errIssuer := errors.New("issuer answered 401")
		hang := make(chan struct{})
		defer close(hang) // let the hung check's goroutine end with the test
		deps := []health.Dependency{
			{Name: "database", Checker: health.CheckerFunc(func(context.Context) error { return errDB })},
			{Name: "queue", Checker: health.CheckerFunc(func(context.Context) error { return nil })},
			{Name: "partner", Checker: health.CheckerFunc(func(context.Context) error {
				<-hang // ignores its context
				return nil
			})},
			{Name: "tokens", Checker: health.CheckerFunc(func(context.Context) error { return errIssuer })},
		}

		start := time.Now()
		err := health.Startup(t.Context(), 5*time.Second, deps...)
		assert.Equal(t, 5*time.Second, time.Since(start), "returns at the deadline, not when the hung check does")

		var serr *health.StartupError
		require.ErrorAs(t, err, &serr)
		assert.Equal(t, 4, serr.Total)
		require.Len(t, serr.Failures, 3)
		assert.Equal(t, "database", serr.Failures[0].Name)
		assert.Equal(t, "partner", serr.Failures[1].Name)
		assert.Equal(t, "tokens", serr.Failures[2].Name)
		assert.Equal(t, "health: startup: 3 of 4 checks failed: "+
			"database: connection refused; "+
			"partner: no answer within 5s: context deadline exceeded; "+
			"tokens: issuer answered 401", err.Error())
		assert.ErrorIs(t, err, errDB)
		assert.ErrorIs(t, err, errIssuer)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestStartupPassesWhenEveryCheckPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := health.CheckerFunc(func(context.Context) error { return nil })
		start := time.Now()
		require.NoError(t, health.Startup(t.Context(), time.Minute,
			health.Dependency{Name: "a", Checker: ok}, health.Dependency{Name: "b", Checker: ok}))
		assert.Zero(t, time.Since(start), "no waiting for the deadline")
		require.NoError(t, health.Startup(t.Context(), time.Minute), "nothing to check")
	})
}

func TestStartupSeedsMonitors(t *testing.T) {
	up := newMonitor(t, newFakeChecker(true), nil)
	down, err := health.NewMonitor(health.MonitorConfig{Name: "down", Checker: newFakeChecker(false)})
	require.NoError(t, err)
	err = health.Startup(t.Context(), time.Minute,
		health.Dependency{Name: up.Name(), Checker: up},
		health.Dependency{Name: down.Name(), Checker: down})
	assert.ErrorContains(t, err, "1 of 2 checks failed: down: ")
	assert.Equal(t, health.StateUp, up.State())
	assert.Equal(t, health.StateDown, down.State(), "the first result decides")
}

func TestStartupPanickingCheckFails(t *testing.T) {
	err := health.Startup(t.Context(), time.Minute, health.Dependency{
		Name: "broken", Checker: health.CheckerFunc(func(context.Context) error { panic("nil map") }),
	})
	assert.ErrorContains(t, err, "broken: health: checker panicked: nil map")
}

func TestStartupRedactsButKeepsTheCause(t *testing.T) {
	cause := errors.New(`dial "postgres://app:s3cret@db:5432/app?sslmode=disable": refused`)
	err := health.Startup(t.Context(), time.Minute, health.Dependency{
		Name: "db", Checker: health.CheckerFunc(func(context.Context) error { return cause }),
	})
	assert.NotContains(t, err.Error(), "s3cret")
	assert.Contains(t, err.Error(), "postgres://[redacted]@db:5432/app?[redacted]")
	assert.ErrorIs(t, err, cause)
}

func TestStartupValidates(t *testing.T) {
	ok := health.CheckerFunc(func(context.Context) error { return nil })
	tests := []struct {
		timeout time.Duration
		deps    []health.Dependency
		want    string
	}{
		{0, nil, "timeout must be positive"},
		{time.Second, []health.Dependency{{Checker: ok}}, "dependency 0 has no Name"},
		{time.Second, []health.Dependency{{Name: "a", Checker: ok}, {Name: "a", Checker: ok}}, `"a" is used twice`},
		{time.Second, []health.Dependency{{Name: "a"}}, `"a" has no Checker`},
	}
	for _, tt := range tests {
		err := health.Startup(t.Context(), tt.timeout, tt.deps...)
		assert.ErrorContains(t, err, tt.want)
		var serr *health.StartupError
		assert.False(t, errors.As(err, &serr), "bad input is not a failed check")
	}
}
