package retry_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/retry"
)

func TestConstant(t *testing.T) {
	c := retry.Constant(2 * time.Second)
	require.NoError(t, c.Validate())
	for _, attempt := range []int{0, 1, 2, 1_000_000} {
		assert.Equal(t, 2*time.Second, c.Delay(attempt))
	}
	require.NoError(t, retry.Constant(0).Validate())
	assert.Zero(t, retry.Constant(0).Delay(3))

	neg := retry.Constant(-time.Second)
	err := neg.Validate()
	require.EqualError(t, err, "retry: invalid settings: Constant is -1s; it must not be negative")
	assert.True(t, errors.Is(err, retry.ErrInvalidSettings))
	assert.Zero(t, neg.Delay(1), "an unvalidated negative Constant still never gives a negative delay")
}

func TestBackoffFunc(t *testing.T) {
	f := retry.BackoffFunc(func(attempt int) time.Duration { return time.Duration(attempt) * time.Second })
	require.NoError(t, f.Validate())
	assert.Equal(t, 3*time.Second, f.Delay(3))

	var nilFunc retry.BackoffFunc
	err := nilFunc.Validate()
	require.EqualError(t, err, "retry: invalid settings: BackoffFunc is a nil function")
	assert.True(t, errors.Is(err, retry.ErrInvalidSettings))
	assert.NotPanics(t, func() { assert.Zero(t, nilFunc.Delay(1)) })
}
