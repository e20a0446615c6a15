package memstore

import "time"

// The heaps are slices of entry values ordered by a method of the entry,
// not container/heap: its Push and Pop take and return an interface, which
// boxes every entry on the heap (two allocations per record claimed).

// readyEntry is a claim candidate. Entries are never removed when a record
// changes; instead they carry the record's generation and are skipped when
// stale (lazy deletion).
type readyEntry struct {
	due time.Time
	seq int64
	rec *rec
	gen uint64
}

func (e readyEntry) before(o readyEntry) bool {
	if !e.due.Equal(o.due) {
		return e.due.Before(o.due)
	}
	return e.seq < o.seq
}

type readyHeap []readyEntry

// push adds r as a candidate due at its NextAttemptAt.
func (h *readyHeap) push(r *rec) {
	heapPush((*[]readyEntry)(h), readyEntry{due: r.NextAttemptAt, seq: r.Seq, rec: r, gen: r.gen})
}

// pop removes and returns the earliest entry; h must not be empty.
func (h *readyHeap) pop() readyEntry { return heapPop((*[]readyEntry)(h)) }

// leaseEntry tracks when a claim expires.
type leaseEntry struct {
	expires time.Time
	rec     *rec
	gen     uint64
}

func (e leaseEntry) before(o leaseEntry) bool { return e.expires.Before(o.expires) }

type leaseHeap []leaseEntry

func (h *leaseHeap) push(e leaseEntry) { heapPush((*[]leaseEntry)(h), e) }

// pop removes and returns the entry that expires first; h must not be
// empty.
func (h *leaseHeap) pop() leaseEntry { return heapPop((*[]leaseEntry)(h)) }

// ordered is a heap entry that knows whether it comes before another.
type ordered[E any] interface{ before(E) bool }

// heapPush adds e to the binary min-heap h.
func heapPush[E ordered[E]](h *[]E, e E) {
	s := append(*h, e)
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].before(s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
	*h = s
}

// heapPop removes and returns the least entry of the non-empty binary
// min-heap h, zeroing the vacated slot so it holds no record.
func heapPop[E ordered[E]](h *[]E) E {
	s := *h
	top, n := s[0], len(s)-1
	s[0] = s[n]
	var zero E
	s[n] = zero
	s = s[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && s[l].before(s[least]) {
			least = l
		}
		if r < n && s[r].before(s[least]) {
			least = r
		}
		if least == i {
			break
		}
		s[i], s[least] = s[least], s[i]
		i = least
	}
	*h = s
	return top
}
