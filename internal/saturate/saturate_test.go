package saturate_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/internal/saturate"
)

func TestAdd(t *testing.T) {
	for _, tc := range []struct{ a, b, want time.Duration }{
		{1, 2, 3},
		{math.MaxInt64, 1, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64 / 2, math.MaxInt64/2 + 2, math.MaxInt64},
		{math.MinInt64, -1, math.MinInt64},
		{math.MinInt64, math.MinInt64, math.MinInt64},
		{math.MaxInt64, math.MinInt64, -1},
		{-5, 3, -2},
	} {
		assert.Equal(t, tc.want, saturate.Add(tc.a, tc.b), "%d + %d", tc.a, tc.b)
		assert.Equal(t, tc.want, saturate.Add(tc.b, tc.a), "%d + %d", tc.b, tc.a)
	}
}

func FuzzAdd(f *testing.F) {
	f.Add(int64(math.MaxInt64), int64(1))
	f.Add(int64(math.MinInt64), int64(-1))
	f.Add(int64(3), int64(-7))
	f.Fuzz(func(t *testing.T, a, b int64) {
		got := saturate.Add(time.Duration(a), time.Duration(b))
		if a > 0 && b > 0 {
			assert.Positive(t, got)
		}
		if a < 0 && b < 0 {
			assert.Negative(t, got)
		}
		if (a >= 0) != (b >= 0) {
			assert.Equal(t, time.Duration(a+b), got, "mixed signs never overflow")
		}
	})
}
