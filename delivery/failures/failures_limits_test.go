package failures_test

import (
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/failures"
)

// History near the largest Duration wrapped the bucket count negative and
// NewFailures panicked in makeslice.
func TestNewFailuresRefusesHugeHistory(t *testing.T) {
	for _, cfg := range []failures.Config{
		{History: math.MaxInt64},
		{History: math.MaxInt64, Resolution: time.Second},
		{History: math.MaxInt64 - 1, Resolution: 2},
	} {
		var err error
		require.NotPanics(t, func() { _, err = failures.New(cfg) }, "%+v", cfg)
		assert.ErrorContains(t, err, "Config.History", "%+v", cfg)
	}
	f, err := failures.New(failures.Config{History: math.MaxInt64, Resolution: math.MaxInt64})
	require.NoError(t, err, "one bucket as wide as the largest Duration is fine")
	f.Add(failures.Key{Destination: "crm", Class: classify.ClassOK, Cause: "ok"}, 1)
	assert.EqualValues(t, 1, f.Last(time.Hour).Total())
}

// Windows near the largest Duration wrapped negative and counted one
// bucket instead of the whole history.
func TestFailuresHugeWindowsCoverTheWholeHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFailures(t, failures.Config{})
		key := failures.Key{Destination: "crm", Class: classify.ClassEphemeral, Cause: "http_503"}
		f.Add(key, 1)
		time.Sleep(10 * time.Minute)
		f.Add(key, 1)
		assert.EqualValues(t, 2, f.Last(math.MaxInt64).Total())
		_, err := f.Surges(failures.SurgeRule{Recent: math.MaxInt64, Baseline: math.MaxInt64})
		require.NoError(t, err)
		for _, factor := range []float64{math.NaN(), math.Inf(1)} {
			_, err = f.Surges(failures.SurgeRule{Factor: factor})
			assert.ErrorContains(t, err, "SurgeRule.Factor")
		}
	})
}
