package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ready heap pops in due order, ties broken by sequence, whatever the
// order of the pushes, and holds no record in a vacated slot.
func TestReadyHeapPopsInDueThenSequenceOrder(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var h readyHeap
	var want []readyEntry
	for i := range 500 {
		r := &rec{}
		r.NextAttemptAt = base.Add(time.Duration(rng.IntN(50)) * time.Second)
		r.Seq = int64(i)
		h.push(r)
		want = append(want, readyEntry{due: r.NextAttemptAt, seq: r.Seq, rec: r})
	}
	slices.SortFunc(want, func(a, b readyEntry) int {
		if a.Before(b) {
			return -1
		}
		return 1
	})
	for i, w := range want {
		require.NotEmpty(t, h)
		got := h.pop()
		require.Equal(t, w.seq, got.seq, "pop %d", i)
		require.Same(t, w.rec, got.rec, "pop %d", i)
	}
	assert.Empty(t, h)
	assert.Nil(t, h[:cap(h)][0].rec, "a vacated slot keeps no record alive")
}

// The lease heap pops the earliest expiry first.
func TestLeaseHeapPopsEarliestExpiryFirst(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h leaseHeap
	for _, s := range []int{5, 1, 4, 2, 3, 0} {
		h.push(leaseEntry{expires: base.Add(time.Duration(s) * time.Second), gen: uint64(s)})
	}
	for s := range 6 {
		assert.Equal(t, uint64(s), h.pop().gen)
	}
	assert.Empty(t, h)
}

// Pushing and popping an entry allocates nothing once the heap has room
// (container/heap boxed each entry in an interface, twice per record).
func TestHeapsDoNotBoxEntries(t *testing.T) {
	h := make(readyHeap, 0, 8)
	r := &rec{}
	allocs := testing.AllocsPerRun(100, func() {
		h.push(r)
		h.pop()
	})
	assert.Zero(t, allocs)
}
