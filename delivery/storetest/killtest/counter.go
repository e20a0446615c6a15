package killtest

import "sync"

// Counter counts deliveries per key (an Idempotency-Key, a record ID) at
// a partner. It is safe for concurrent use; make it with NewCounter.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter { return &Counter{counts: map[string]int{}} }

// Add counts one delivery of key.
func (c *Counter) Add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.total++
	c.mu.Unlock()
}

// Unique returns how many distinct keys were delivered.
func (c *Counter) Unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// Duplicates returns how many deliveries repeated an earlier one, and
// which keys of want were never delivered.
func (c *Counter) Duplicates(want []string) (dups int, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range want {
		if c.counts[k] == 0 {
			missing = append(missing, k)
		}
	}
	return c.total - len(c.counts), missing
}

// overKills returns the keys delivered more often than once plus the
// number of kills that found them in flight, with their counts.
func (c *Counter) overKills(inFlightAt map[string]int) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, n := range c.counts {
		if n-1 > inFlightAt[k] {
			out[k] = n
		}
	}
	return out
}
