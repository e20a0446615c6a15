package logging

import (
	"sync"
	"sync/atomic"

	"github.com/outbound-go/outbound/health"
)

// Bounds of a redactMemo.
const (
	redactMemoEntries = 256
	redactMemoMaxText = 512
)

// redactMemo remembers health.Redact's answers for error texts seen before.
// Redaction scans the text for several kinds of credential (a few µs for a
// short error), while a failing partner repeats the same few texts ("ephemeral: http 503
// Service Unavailable") thousands of times. It holds at most
// redactMemoEntries texts of at most redactMemoMaxText bytes (roughly:
// concurrent stores may pass the bound by a few); when it is full it is
// emptied, so texts that stop recurring make room for those that do.
type redactMemo struct {
	m sync.Map // string -> string
	n atomic.Int32
}

// redact returns health.Redact(s), from memory when s was seen before.
func (r *redactMemo) redact(s string) string {
	if v, ok := r.m.Load(s); ok {
		return v.(string)
	}
	out := health.Redact(s)
	if len(s) > redactMemoMaxText {
		return out
	}
	if r.n.Load() >= redactMemoEntries {
		r.m.Clear()
		r.n.Store(0)
	}
	if _, loaded := r.m.LoadOrStore(s, out); !loaded {
		r.n.Add(1)
	}
	return out
}
