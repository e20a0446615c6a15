package memstore

import (
	"time"

	"github.com/outbound-go/outbound/internal/minheap"
)

// The heaps are slices of entry values ordered by the entry's Before
// method (package minheap), not container/heap: its Push and Pop take and
// return an interface, which boxes every entry on the heap (two
// allocations per record claimed).

// readyEntry is a claim candidate. Entries are never removed when a record
// changes; instead they carry the record's generation and are skipped when
// stale (lazy deletion).
type readyEntry struct {
	due time.Time
	seq int64
	rec *rec
	gen uint64
}

func (e readyEntry) Before(o readyEntry) bool {
	if !e.due.Equal(o.due) {
		return e.due.Before(o.due)
	}
	return e.seq < o.seq
}

type readyHeap []readyEntry

// push adds r as a candidate due at its NextAttemptAt.
func (h *readyHeap) push(r *rec) {
	minheap.Push((*[]readyEntry)(h), readyEntry{due: r.NextAttemptAt, seq: r.Seq, rec: r, gen: r.gen})
}

// pop removes and returns the earliest entry; h must not be empty.
func (h *readyHeap) pop() readyEntry { return minheap.Pop((*[]readyEntry)(h)) }

// leaseEntry tracks when a claim expires.
type leaseEntry struct {
	expires time.Time
	rec     *rec
	gen     uint64
}

func (e leaseEntry) Before(o leaseEntry) bool { return e.expires.Before(o.expires) }

type leaseHeap []leaseEntry

func (h *leaseHeap) push(e leaseEntry) { minheap.Push((*[]leaseEntry)(h), e) }

// pop removes and returns the entry that expires first; h must not be
// empty.
func (h *leaseHeap) pop() leaseEntry { return minheap.Pop((*[]leaseEntry)(h)) }
