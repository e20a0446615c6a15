package memstore

import (
	"container/heap"
	"time"
)

// readyEntry is a claim candidate. Entries are never removed when a record
// changes; instead they carry the record's generation and are skipped when
// stale (lazy deletion).
type readyEntry struct {
	due time.Time
	seq int64
	rec *rec
	gen uint64
}

type readyHeap []readyEntry

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h readyHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)   { *h = append(*h, x.(readyEntry)) }
func (h *readyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = readyEntry{}
	*h = old[:len(old)-1]
	return e
}

func (h *readyHeap) push(r *rec) {
	heap.Push(h, readyEntry{due: r.NextAttemptAt, seq: r.Seq, rec: r, gen: r.gen})
}

// leaseEntry tracks when a claim expires.
type leaseEntry struct {
	expires time.Time
	rec     *rec
	gen     uint64
}

type leaseHeap []leaseEntry

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h leaseHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *leaseHeap) Push(x any)        { *h = append(*h, x.(leaseEntry)) }
func (h *leaseHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = leaseEntry{}
	*h = old[:len(old)-1]
	return e
}
