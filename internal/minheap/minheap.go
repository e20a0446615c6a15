// Package minheap is a binary min-heap kept in a plain slice of values
// ordered by their own Before method: the memory store's queues of
// records and the Dispatcher's due times. Unlike container/heap, it takes
// and returns the values themselves, not interfaces, so pushing an entry
// does not box it (an allocation per push and per pop).
//
//	var due []time.Time // time.Time has Before: it is Ordered
//	minheap.Push(&due, t)
//	earliest := minheap.Pop(&due)
package minheap

// Ordered is a value that knows whether it comes before another.
type Ordered[E any] interface{ Before(E) bool }

// Push adds e to the heap h.
func Push[E Ordered[E]](h *[]E, e E) {
	s := append(*h, e)
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].Before(s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
	*h = s
}

// Pop removes and returns the least entry of h, zeroing the vacated slot
// so that it keeps nothing alive. h must not be empty: Pop panics if it
// is, as indexing an empty slice does.
func Pop[E Ordered[E]](h *[]E) E {
	s := *h
	top, n := s[0], len(s)-1
	s[0] = s[n]
	var zero E
	s[n] = zero
	s = s[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && s[l].Before(s[least]) {
			least = l
		}
		if r < n && s[r].Before(s[least]) {
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
