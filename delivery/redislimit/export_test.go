package redislimit

import (
	"context"
	"time"
)

// SetClockForTest makes l read the time from now and wait with sleep,
// where it uses this process's clock.
func (l *Limiter) SetClockForTest(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) {
	l.now, l.sleep = now, sleep
}
