package tokencache

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// ErrBackoff is wrapped by the error Token returns while refreshes are paused
// after a failure (see Config.FailureBackoff). The error is
// classify.ClassUnavailable with the remaining pause as its Retry-After, and
// also wraps the failure that started the pause.
var ErrBackoff = errors.New("tokencache: token refresh is backing off after a failure")

// errRejectedAgain is the cause recorded when freshly obtained tokens keep
// being rejected by the partner.
var errRejectedAgain = errors.New("tokencache: the partner rejected consecutive tokens")

// pacer rate-limits refreshes after failures so that a down issuer (or a
// partner that rejects every token) is not hammered by every waiter in turn.
// Failures are never cached as results: once the pause is over the next
// caller tries again.
type pacer struct {
	base, max time.Duration

	mu         sync.Mutex
	failures   int       // consecutive failed refreshes
	rejections int       // rejections in a row, each within max of the last
	lastReject time.Time // when the last token was rejected
	next       time.Time // no refresh before this
	cause      error     // why next was set
}

// wait returns how long refreshes are still paused at now, or 0.
func (p *pacer) wait(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.next.Sub(now), 0)
}

// err returns the error for a caller turned away with wait remaining.
func (p *pacer) err(wait time.Duration) error {
	p.mu.Lock()
	cause := p.cause
	p.mu.Unlock()
	return &classify.Error{
		Class:      classify.ClassUnavailable,
		RetryAfter: wait,
		Err:        fmt.Errorf("%w (next attempt in %v): %w", ErrBackoff, wait.Round(time.Millisecond), cause),
	}
}

// failed records a failed refresh at now and returns how long refreshes are
// paused from now.
func (p *pacer) failed(now time.Time, cause error) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	p.pause(now, p.delay(p.failures), cause)
	return p.next.Sub(now)
}

// succeeded records a successful refresh. It does not forget rejections: a
// token that is minted fine but rejected at once is still a failure.
func (p *pacer) succeeded() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = 0
}

// rejected records that the partner rejected the current token at now. The
// first rejection after a quiet spell costs nothing (tokens do get revoked);
// each further one within max of the previous pauses refreshes like a
// failure.
func (p *pacer) rejected(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.lastReject.IsZero() && now.Sub(p.lastReject) <= p.max {
		p.rejections++
		p.pause(now, p.delay(p.rejections), errRejectedAgain)
	} else {
		p.rejections = 0
	}
	p.lastReject = now
}

func (p *pacer) pause(now time.Time, d time.Duration, cause error) {
	if t := now.Add(d); t.After(p.next) {
		p.next = t
		p.cause = cause
	}
}

// delay returns base doubled n-1 times, capped at max.
func (p *pacer) delay(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.max; i++ {
		if d > p.max/2 {
			return p.max // doubling would pass max, or wrap past the largest Duration
		}
		d *= 2
	}
	return min(d, p.max)
}
