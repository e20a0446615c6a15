package postgres_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/postgres"
)

// A nil *Store as RetentionConfig.Store passed the nil check and panicked
// in the first purge round.
func TestNewRetentionRefusesATypedNilStore(t *testing.T) {
	var err error
	require.NotPanics(t, func() {
		_, err = postgres.NewRetention(postgres.RetentionConfig{Store: (*postgres.Store)(nil), MaxAge: time.Hour})
	})
	assert.ErrorIs(t, err, postgres.ErrConfig)
	assert.ErrorContains(t, err, "RetentionConfig.Store is a nil")
}

// countingPurger counts purge calls and deletes nothing.
type countingPurger struct{ calls int }

func (p *countingPurger) Purge(context.Context, time.Time, int) (int, error) {
	p.calls++
	return 0, nil
}

func TestRetentionAcceptsTheLargestValues(t *testing.T) {
	p := &countingPurger{}
	r, err := postgres.NewRetention(postgres.RetentionConfig{Store: p, MaxAge: math.MaxInt64, Interval: math.MaxInt64, BatchSize: math.MaxInt})
	require.NoError(t, err)
	var n int
	require.NotPanics(t, func() { n, err = r.PurgeOnce(context.Background()) })
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, 1, p.calls)
}
