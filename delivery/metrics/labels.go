package metrics

import (
	"strings"
	"sync"
)

// Other is the label value that stands for every value beyond
// Config.MaxLabelValues, so that a run of new destinations, error causes or
// breaker names cannot grow the number of series without bound.
const Other = "_other"

// labelValues bounds the distinct values of one label. Values already seen
// are answered from a sync.Map without locking.
type labelValues struct {
	max  int
	seen sync.Map // string -> struct{}

	mu sync.Mutex
	n  int
}

func newLabelValues(max int) *labelValues { return &labelValues{max: max} }

// get returns v if it is, or can still become, one of the first max values
// seen; Other otherwise. Invalid UTF-8 is repaired first, since Prometheus
// rejects it.
func (l *labelValues) get(v string) string {
	if _, ok := l.seen.Load(v); ok {
		return v
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.seen.Load(v); ok {
		return v
	}
	if l.n >= l.max {
		return Other
	}
	l.n++
	l.seen.Store(v, struct{}{})
	return v
}
