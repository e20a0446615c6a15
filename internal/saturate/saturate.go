// Package saturate adds durations without wrapping: a sum beyond the
// largest (or below the smallest) time.Duration is clamped to it. A
// configured timeout near math.MaxInt64 then means "practically forever"
// instead of wrapping to a negative deadline that is already past.
package saturate

import (
	"math"
	"time"
)

// Add returns a+b, or the largest or smallest time.Duration when the sum
// would overflow.
func Add(a, b time.Duration) time.Duration {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
