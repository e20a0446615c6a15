package memstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// LowerDestinationRate lowers a stored rate and never raises it: it
// returns the rate in force, keeps the other limits, and stores nothing
// for a destination without limits.
func TestLowerDestinationRate(t *testing.T) {
	s := memstore.New(memstore.Config{})
	var _ delivery.RateLowerer = s
	ctx := context.Background()
	got, err := s.LowerDestinationRate(ctx, "none", 5)
	require.NoError(t, err)
	assert.Zero(t, got, "no stored limits: nothing stored")
	l, err := s.DestinationLimits(ctx, "none")
	require.NoError(t, err)
	assert.Zero(t, l)

	require.NoError(t, s.SetDestinationLimits(ctx, "p", delivery.DestinationLimits{MaxInFlight: 4, Rate: 100, Burst: 10}))
	for _, tc := range []struct{ lower, want float64 }{{50, 50}, {80, 50}, {50, 50}, {19.5, 19.5}} {
		got, err := s.LowerDestinationRate(ctx, "p", tc.lower)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "lowered to %v", tc.lower)
	}
	l, err = s.DestinationLimits(ctx, "p")
	require.NoError(t, err)
	assert.Equal(t, delivery.DestinationLimits{MaxInFlight: 4, Rate: 19.5, Burst: 10}, l)
	for _, bad := range []float64{0, -1, delivery.MaxRate * 2} {
		_, err := s.LowerDestinationRate(ctx, "p", bad)
		assert.ErrorIs(t, err, delivery.ErrInvalid, "%v", bad)
	}
}
