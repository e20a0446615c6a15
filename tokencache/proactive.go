package tokencache

import "time"

// refreshAhead is the ProactiveRefresh goroutine. It fetches the first token
// at once and then refreshes each token at its renewAt, one skew before
// callers would have to wait, so the hit path never stalls on a mint. After
// a failure it retries when the backoff pause ends; Invalidate wakes it.
func (c *Cache) refreshAhead() {
	defer c.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-timer.C:
		case <-c.kick:
		}
		now := time.Now()
		if e := c.cur.Load(); (e == nil || !now.Before(e.renewAt)) && c.pacer.wait(now) == 0 {
			select {
			case <-c.ctx.Done():
				return
			case <-c.flight.DoChan(flightKey, c.refresh):
			}
		}
		timer.Reset(c.nextRefresh(time.Now()))
	}
}

// nextRefresh returns how long the refresher sleeps after a round at now.
func (c *Cache) nextRefresh(now time.Time) time.Duration {
	if wait := c.pacer.wait(now); wait > 0 {
		return wait
	}
	e := c.cur.Load()
	if e == nil || e == closedEntry {
		// No token and no pause: the last round was cut short (or the
		// token was just invalidated, which also kicks). Try again soon.
		return c.cfg.PollInterval
	}
	return max(e.renewAt.Sub(now), time.Millisecond)
}

// wake nudges the proactive refresher, if there is one, without blocking.
func (c *Cache) wake() {
	if c.kick == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}
