package delivery

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/defaults"
)

// Defaults of a RetryBudget's zero fields.
const (
	DefaultRetryShare  = 0.2
	DefaultRetryWindow = 10 * time.Second
	DefaultRetryFloor  = 10
)

// RetryBudget bounds the retries a Dispatcher sends to one destination to a
// share of the requests it sends there: over any span of one Window,
// retries (attempts of records that were attempted before) are at most
// Floor + Share × the attempts sent in that span, so a quiet destination
// can still retry a little (Floor per Window) and a busy one retries in
// proportion to its traffic. A due retry over budget is deferred, without
// spending an attempt, past its next token and a random part of a Window:
// after an outage, the backlog's retries trickle back in beside new
// records instead of becoming the load that keeps the partner down. The
// backlog then drains at about Share × new traffic + Floor per Window:
// raise Floor for a faster drain after outages of a quiet destination.
//
// It is a token bucket, like Finagle's retry budget: each attempt
// deposits Share of a token, time deposits Floor/2 per Window, the bucket
// holds Floor/2, and a retry takes one token.
//
// The budget is kept by each Dispatcher for the attempts it sends: it is a
// share, so it holds for a fleet whose processes each keep it, but each
// process has its own Floor.
//
// A zero field takes its default: Share 0.2, Window 10s, Floor 10.
type RetryBudget struct {
	// Share is the retries each attempt sent makes room for, in (0, 1].
	// Zero means DefaultRetryShare.
	Share float64
	// Window is the span the shares are counted over. Zero means
	// DefaultRetryWindow.
	Window time.Duration
	// Floor is how many retries per Window are allowed beyond the share,
	// so a destination with little traffic can still retry. Zero means
	// DefaultRetryFloor.
	Floor int
}

// validate checks b and returns it with its defaults.
func (b RetryBudget) validate() (RetryBudget, error) {
	switch {
	case b.Share < 0 || b.Share > 1 || b.Share != b.Share:
		return b, fmt.Errorf("delivery: RetryBudget.Share %v outside 0..1", b.Share)
	case b.Window < 0:
		return b, fmt.Errorf("delivery: RetryBudget.Window %v is negative", b.Window)
	case b.Floor < 0:
		return b, fmt.Errorf("delivery: RetryBudget.Floor %d is negative", b.Floor)
	}
	if b.Share == 0 {
		b.Share = DefaultRetryShare
	}
	defaults.Set(&b.Window, DefaultRetryWindow)
	defaults.Set(&b.Floor, DefaultRetryFloor)
	return b, nil
}

// ErrRetryBudget is the cause of the Unavailable error of a retry deferred
// because its destination's RetryBudget was spent.
var ErrRetryBudget = errors.New("delivery: retry budget of the destination spent; the retry waits")

var errRetryBudget = classify.Unavailable(ErrRetryBudget)

// budget is a RetryBudget's bucket of retry tokens for one destination:
// each attempt sent deposits Share of a token, time deposits Floor/2 per
// Window, the bucket holds at most Floor/2 (at least one), and a retry
// takes a whole token. So over any span of one Window, whenever it starts,
// retries are at most Floor + Share × the attempts sent in it: a burst of
// first attempts (a backlog's, at the start of an outage) cannot fund a
// burst of retries later, since the bucket keeps no more than Floor/2.
type budget struct {
	cfg    RetryBudget
	mu     sync.Mutex
	tokens float64
	last   time.Time // when tokens was last brought up to date
	spent  bool      // a retry was refused, none let through since
}

func newBudget(cfg RetryBudget) *budget {
	b := &budget{cfg: cfg}
	b.tokens = b.capacity()
	return b
}

func (b *budget) capacity() float64 { return max(1, float64(b.cfg.Floor)/2) }

// refillPerSecond is the time deposit: Floor/2 per Window.
func (b *budget) refillPerSecond() float64 {
	return float64(b.cfg.Floor) / 2 / b.cfg.Window.Seconds()
}

// take records an attempt at now, a retry or not, and reports whether it
// may go; a retry over budget is not recorded, and wait says how long it
// should wait before it is tried again: past the next token, spread over
// a Window so that a backlog's deferred retries do not come back at once.
// first is true for the first refusal after a retry was let through (or
// since the start): the budget became exhausted.
func (b *budget) take(now time.Time, retry bool) (ok bool, wait time.Duration, first bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.capacity(), b.tokens+now.Sub(b.last).Seconds()*b.refillPerSecond())
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if retry {
		if b.tokens < 1 {
			next := time.Duration((1 - b.tokens) / b.refillPerSecond() * float64(time.Second))
			first = !b.spent
			b.spent = true
			return false, min(next, b.cfg.Window) + rand.N(b.cfg.Window), first
		}
		b.tokens--
		b.spent = false
	}
	b.tokens = min(b.capacity(), b.tokens+b.cfg.Share)
	return true, 0, false
}
