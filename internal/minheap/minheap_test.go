package minheap_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/outbound-go/outbound/internal/minheap"
)

// Whatever the order of the pushes, the pops come in order.
func TestPopsInOrder(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	var h, want []time.Time
	for range 500 {
		at := base.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
		minheap.Push(&h, at)
		want = append(want, at)
	}
	slices.SortFunc(want, time.Time.Compare)
	for i, w := range want {
		if got := minheap.Pop(&h); !got.Equal(w) {
			t.Fatalf("pop %d = %v, want %v", i, got, w)
		}
	}
	if len(h) != 0 {
		t.Fatalf("%d left after popping all", len(h))
	}
}
