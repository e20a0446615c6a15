package failures_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func newFailures(t *testing.T, cfg failures.Config) *failures.Tracker {
	t.Helper()
	f, err := failures.New(cfg)
	require.NoError(t, err)
	return f
}

// TestFailuresCountsADispatchersOutcomes: seed 003 — ephemeral errors are
// counted by class and cause, not reported one by one.
func TestFailuresCountsADispatchersOutcomes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFailures(t, failures.Config{})
		store := memstore.New(memstore.Config{})
		timeout := classify.Ephemeral(context.DeadlineExceeded)
		sc := deliverytest.NewScript().On("a", http503, http503, nil).On("b", timeout, nil).On("c", http400).On("d", http422).On("e", errUnavailable)
		// Concurrency 1 attempts in claim order, which fixes the records
		// that meet the pause e's refusal sets: with two workers, d
		// (claimed with e) waits unattempted, one more deferral, whenever
		// e happens to be attempted first.
		d := newDispatcher(t, delivery.DispatcherConfig{Store: store, Deliverer: sc, Observer: f, Concurrency: 1})
		enqueue(t, store,
			delivery.Message{ID: "a", Destination: "ats", Payload: pl("a")},
			delivery.Message{ID: "b", Destination: "ats", Payload: pl("b")},
			delivery.Message{ID: "c", Destination: "ats", Payload: pl("c")},
			delivery.Message{ID: "d", Destination: "crm", Payload: pl("d")},
			delivery.Message{ID: "e", Destination: "crm", Payload: pl("e")},
			delivery.Message{ID: "f", Destination: "crm", Payload: pl("f")},
		)
		for range 3 {
			_, err := d.RunOnce(context.Background())
			require.NoError(t, err)
			time.Sleep(3 * time.Minute)
		}

		tot := f.Totals()
		assert.Equal(t, map[failures.Key]int64{
			{Destination: "ats", Class: classify.ClassEphemeral, Cause: "http_503"}: 2,
			{Destination: "ats", Class: classify.ClassEphemeral, Cause: "deadline"}: 1,
			{Destination: "ats", Class: classify.ClassOK, Cause: "ok"}:              2,
			{Destination: "ats", Class: classify.ClassPermanent, Cause: "http_400"}: 1,
			{Destination: "crm", Class: classify.ClassDiscard, Cause: "http_422"}:   1,
			{Destination: "crm", Class: classify.ClassUnavailable, Cause: "other"}:  3,
			{Destination: "crm", Class: classify.ClassOK, Cause: "ok"}:              1,
		}, tot.Counts)
		assert.Equal(t, int64(11), tot.Total())
		assert.Equal(t, int64(5), tot.Failed(), "ephemeral, permanent and discard")
		assert.Equal(t, int64(3), tot.Class(classify.ClassEphemeral))
		assert.Equal(t, int64(2), tot.Cause("http_503"))
		assert.Equal(t, int64(5), tot.Destination("crm").Total(), "the discard, three deferrals and the delivery")
		assert.Equal(t, int64(1), tot.Destination("crm").Failed())
		assert.Len(t, tot.Keys(), 7)
		assert.Equal(t, failures.Key{Destination: "ats", Class: classify.ClassOK, Cause: "ok"}, tot.Keys()[0])
	})
}

func TestFailuresReleasesAreNotCounted(t *testing.T) {
	f := newFailures(t, failures.Config{})
	f.ObserveAttempt(context.Background(), delivery.AttemptEvent{Action: delivery.ActionRelease, Attempt: delivery.Attempt{Class: classify.ClassUnavailable}})
	f.ObserveRun(context.Background(), delivery.Report{Claimed: 1})
	assert.Zero(t, f.Totals().Total())
	// An event without a Cause gets one from its error.
	f.ObserveAttempt(context.Background(), delivery.AttemptEvent{Action: delivery.ActionRetry, Err: http503, Attempt: delivery.Attempt{Class: classify.ClassEphemeral}})
	assert.Equal(t, int64(1), f.Totals().Cause("http_503"))
}

func TestFailuresRollingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFailures(t, failures.Config{Resolution: time.Minute, History: 10 * time.Minute})
		k := failures.Key{Destination: "ats", Class: classify.ClassEphemeral, Cause: "timeout"}
		start := time.Now()
		for range 12 { // one failure per minute for 12 minutes
			f.Add(k, 1)
			time.Sleep(time.Minute)
		}
		// Now 12m after start, in a new, empty bucket.
		assert.Equal(t, int64(12), f.Totals().Counts[k])
		assert.Equal(t, int64(0), f.Last(0).Counts[k], "the current bucket is empty")
		last5 := f.Last(5 * time.Minute)
		assert.Equal(t, int64(4), last5.Counts[k], "buckets 8..11, plus the empty current one")
		assert.Equal(t, start.Add(8*time.Minute), last5.Since)
		assert.Equal(t, time.Now(), last5.Until)
		assert.Equal(t, int64(4), f.Last(4*time.Minute + time.Second).Counts[k], "rounded up to whole buckets")
		assert.Equal(t, int64(9), f.Last(time.Hour).Counts[k], "capped at History: buckets 3..12")
		assert.Equal(t, start.Add(3*time.Minute), f.Last(time.Hour).Since)

		// A long quiet spell empties every bucket without touching them.
		time.Sleep(time.Hour)
		assert.Zero(t, f.Last(time.Hour).Total())
		assert.Equal(t, int64(12), f.Totals().Total())
		f.Add(k, 3)
		assert.Equal(t, int64(3), f.Last(time.Hour).Total())
		f.Add(k, 0)
		f.Add(k, -5)
		assert.Equal(t, int64(15), f.Totals().Total(), "n <= 0 is ignored")
	})
}

// TestFailuresSurges: a steady trickle of 503s is the baseline; a burst of
// timeouts is a change of rate and surges; the 503s do not.
func TestFailuresSurges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFailures(t, failures.Config{})
		steady := failures.Key{Destination: "ats", Class: classify.ClassEphemeral, Cause: "http_503"}
		burst := failures.Key{Destination: "ats", Class: classify.ClassEphemeral, Cause: "timeout"}
		ok := failures.Key{Destination: "ats", Class: classify.ClassOK, Cause: "ok"}
		rule := failures.SurgeRule{Recent: 5 * time.Minute, Factor: 3, Min: 10}

		for range 60 { // an hour of 3 503s a minute and some successes
			f.Add(steady, 3)
			f.Add(ok, 100)
			time.Sleep(time.Minute)
		}
		surges, err := f.Surges(rule)
		require.NoError(t, err)
		assert.Empty(t, surges, "a steady rate is not news, however many errors")

		// One stray timeout after a quiet hour does not surge either (Min).
		f.Add(burst, 1)
		surges, err = f.Surges(rule)
		require.NoError(t, err)
		assert.Empty(t, surges)

		for range 5 { // then timeouts start: 4 a minute
			f.Add(steady, 3)
			f.Add(burst, 4)
			time.Sleep(time.Minute)
		}
		surges, err = f.Surges(rule)
		require.NoError(t, err)
		require.Len(t, surges, 1)
		assert.Equal(t, burst, surges[0].Key)
		// Now is the start of a fresh minute: the recent window is that empty
		// bucket and the 4 before it; the stray timeout and the first 4
		// fell into the baseline.
		assert.Equal(t, int64(16), surges[0].Recent)
		assert.Equal(t, int64(5), surges[0].Baseline)
		assert.InDelta(t, 4.0, surges[0].RecentRate, 0.001, "per minute")
		assert.InDelta(t, 5.0/55, surges[0].BaselineRate, 0.001, "per minute")

		// Successes can be watched too; they did not change.
		surges, err = f.Surges(failures.SurgeRule{Classes: []classify.Class{classify.ClassOK}})
		require.NoError(t, err)
		assert.Empty(t, surges)

		// Once timeouts are the norm (the baseline holds them), they stop
		// surging.
		for range 60 {
			f.Add(burst, 4)
			time.Sleep(time.Minute)
		}
		surges, err = f.Surges(rule)
		require.NoError(t, err)
		assert.Empty(t, surges)
	})
}

func TestFailuresSurgeBaselineWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFailures(t, failures.Config{})
		k := failures.Key{Class: classify.ClassPermanent, Cause: "http_400"}
		f.Add(k, 30) // a burst long ago
		time.Sleep(40 * time.Minute)
		f.Add(k, 8)
		// Against the whole hour, 8 in the last 4 minutes (2/min) is not 3x
		// the rate of 30 in the 36 minutes before (0.83/min)...
		all, err := f.Surges(failures.SurgeRule{Factor: 3, Min: 5})
		require.NoError(t, err)
		assert.Empty(t, all)
		// ...but against the 10 minutes before only (no failures) it is.
		recent, err := f.Surges(failures.SurgeRule{Factor: 3, Min: 5, Baseline: 10 * time.Minute})
		require.NoError(t, err)
		require.Len(t, recent, 1)
		assert.Equal(t, int64(8), recent[0].Recent)
		assert.Zero(t, recent[0].Baseline)
	})
}

func TestFailuresMaxKeys(t *testing.T) {
	f := newFailures(t, failures.Config{MaxKeys: 3})
	for i := range 10 {
		f.Add(failures.Key{Destination: fmt.Sprint("d", i), Class: classify.ClassEphemeral, Cause: "timeout"}, 1)
	}
	f.Add(failures.Key{Destination: "d0", Class: classify.ClassEphemeral, Cause: "timeout"}, 1)
	tot := f.Totals()
	assert.Len(t, tot.Counts, 4, "three keys, then one overflow key per class")
	assert.Equal(t, int64(7), tot.Counts[failures.Key{Destination: failures.Other, Class: classify.ClassEphemeral, Cause: failures.Other}])
	assert.Equal(t, int64(2), tot.Counts[failures.Key{Destination: "d0", Class: classify.ClassEphemeral, Cause: "timeout"}])
	assert.Equal(t, int64(11), tot.Class(classify.ClassEphemeral), "the class is kept")
}

func TestFailuresAddDoesNotAllocate(t *testing.T) {
	f := newFailures(t, failures.Config{})
	k := failures.Key{Destination: "ats", Class: classify.ClassEphemeral, Cause: "timeout"}
	f.Add(k, 1)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { f.Add(k, 1) }))
}

func TestNewFailuresValidates(t *testing.T) {
	cases := []struct {
		cfg  failures.Config
		want string
	}{
		{failures.Config{Resolution: -1}, "Config.Resolution"},
		{failures.Config{History: -1}, "Config.History"},
		{failures.Config{MaxKeys: -1}, "Config.MaxKeys"},
		{failures.Config{Resolution: time.Hour, History: time.Minute}, "Config.History"},
		{failures.Config{Resolution: time.Millisecond, History: time.Hour}, "Config.History"},
	}
	for _, tc := range cases {
		_, err := failures.New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
	f := newFailures(t, failures.Config{})
	for _, rule := range []failures.SurgeRule{
		{Recent: -1}, {Baseline: -1}, {Factor: -1}, {Min: -1}, {Classes: []classify.Class{42}},
	} {
		_, err := f.Surges(rule)
		require.Error(t, err, "%+v", rule)
		assert.Contains(t, err.Error(), "failures: SurgeRule.")
	}
}
