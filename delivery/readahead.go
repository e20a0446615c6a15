package delivery

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// readAhead is how many claimed records a Dispatcher keeps queued ahead of
// its workers, so that the next claim's round trip overlaps the attempts
// in flight: as many as the workers finish in readAheadWait, at least
// Concurrency and at most readAheadMax times Concurrency.
//
// When attempts take readAheadWait or longer, the workers finish at most
// Concurrency records in that time, so it is Concurrency, as it was before
// it adapted: a record claimed ahead waits for about one attempt in front
// of it. When attempts are quick and the store is what workers wait for,
// it is larger, and so are the claims and the flushes of settles that
// follow them; each costs the store less per record (with PostgreSQL, a
// claim's statement and commit cost about as much as its first ten
// records). Records then wait about readAheadWait in the queue at most, a
// small part of any lease.
//
// The rate is measured between the arrivals of a run's claims and smoothed
// over about four of them. It is shared by the Dispatcher's runs, so a run
// starts where the last one left it. If attempts turn slow all at once,
// the records already queued wait for more than one attempt each; one
// whose lease runs too low for its attempt is released, not attempted
// (see DispatcherConfig.Lease).
type readAhead struct {
	n        atomic.Int64 // the current read-ahead, read on every claim
	mu       sync.Mutex   // guards smooth
	smooth   float64
	min, max float64
}

const (
	// readAheadWait is how long the records claimed ahead of the workers
	// take them to finish, at most, once the read-ahead exceeds
	// Concurrency.
	readAheadWait = 50 * time.Millisecond
	// readAheadMax bounds the read-ahead, as a multiple of Concurrency:
	// claims of four times Concurrency in all gained most of what larger
	// ones did with PostgreSQL at Concurrency 16.
	readAheadMax = 3
	// readAheadSmoothing is the weight of each new measurement.
	readAheadSmoothing = 0.25
)

func newReadAhead(concurrency int) *readAhead {
	c := float64(concurrency)
	a := &readAhead{smooth: c, min: c, max: readAheadMax * c}
	a.n.Store(int64(concurrency))
	return a
}

// get returns the current read-ahead, between Concurrency and
// readAheadMax times Concurrency.
func (a *readAhead) get() int { return int(a.n.Load()) }

// most returns the largest read-ahead get can return.
func (a *readAhead) most() int { return int(a.max) }

// finished adapts the read-ahead to workers having finished n records
// over the span d (between two claims' arrivals). A span of zero or less
// tells nothing and is ignored.
func (a *readAhead) finished(n int, d time.Duration) {
	if d <= 0 {
		return
	}
	target := min(a.max, max(a.min, float64(n)/d.Seconds()*readAheadWait.Seconds()))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.smooth += (target - a.smooth) * readAheadSmoothing
	a.n.Store(int64(math.Round(a.smooth)))
}
