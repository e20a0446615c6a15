package killtest

import "sync"

// counter counts deliveries per idempotency key at the partner.
type counter struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newCounter() *counter { return &counter{counts: map[string]int{}} }

func (c *counter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.total++
	c.mu.Unlock()
}

// unique returns how many distinct keys were delivered.
func (c *counter) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// duplicates returns how many deliveries repeated an earlier one, and
// which keys of want were never delivered.
func (c *counter) duplicates(want []string) (dups int, missing []string) {
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
func (c *counter) overKills(inFlightAt map[string]int) map[string]int {
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
