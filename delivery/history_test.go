package delivery_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

func TestHistoryWithDefaults(t *testing.T) {
	assert.Equal(t, delivery.History{MaxAttempts: delivery.DefaultHistoryAttempts, MaxBytes: delivery.DefaultHistoryBytes},
		delivery.History{}.WithDefaults())
	assert.Equal(t, delivery.History{MaxAttempts: 0, MaxBytes: math.MaxInt},
		delivery.History{MaxAttempts: -1, MaxBytes: -1}.WithDefaults())
}

func TestHistoryAppend(t *testing.T) {
	at := func(i, size int) delivery.Attempt {
		return delivery.Attempt{Error: fmt.Sprintf("%d:", i) + strings.Repeat("x", size)}
	}
	h := delivery.History{MaxAttempts: 3}.WithDefaults()
	var hist []delivery.Attempt
	for i := range 5 {
		before := append([]delivery.Attempt(nil), hist...)
		next := h.Append(hist, at(i, 0))
		assert.Equal(t, before, hist, "the old history is not changed")
		hist = next
	}
	require.Len(t, hist, 3)
	assert.Equal(t, []string{"2:", "3:", "4:"}, []string{hist[0].Error, hist[1].Error, hist[2].Error})

	// By size: 300 bytes hold two attempts of 100 bytes of text each
	// (plus the overhead), not three.
	h = delivery.History{MaxBytes: 2 * (100 + delivery.AttemptOverhead)}.WithDefaults()
	hist = nil
	for i := range 4 {
		hist = h.Append(hist, at(i, 98))
	}
	require.Len(t, hist, 2)
	assert.True(t, strings.HasPrefix(hist[1].Error, "3:"))

	// The newest is kept even when it alone is over the bound.
	hist = h.Append(hist, at(9, 1000))
	require.Len(t, hist, 1)

	// No history.
	assert.Nil(t, delivery.History{MaxAttempts: -1}.WithDefaults().Append(hist, at(1, 0)))
}

func TestHistoryEncodeDecode(t *testing.T) {
	a := delivery.Attempt{StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Duration: 1500 * time.Millisecond,
		Status: 503, Class: classify.ClassEphemeral, Error: `ephemeral: "quoted" <b>`, Response: "é\n"}
	b := []byte("[" + string(delivery.EncodeAttempt(a)) + "," + string(delivery.EncodeAttempt(delivery.Attempt{})) + "]")
	got, err := delivery.DecodeHistory(b)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.True(t, a.StartedAt.Equal(got[0].StartedAt))
	got[0].StartedAt = a.StartedAt
	assert.Equal(t, a, got[0])

	none, err := delivery.DecodeHistory(nil)
	require.NoError(t, err)
	assert.Nil(t, none)
	none, err = delivery.DecodeHistory([]byte("[]"))
	require.NoError(t, err)
	assert.Nil(t, none)
	_, err = delivery.DecodeHistory([]byte(`{"not":"an array"}`))
	assert.Error(t, err)
}
