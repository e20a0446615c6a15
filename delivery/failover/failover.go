package failover

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Failover is a delivery.Deliverer over prioritised channels; see the
// package documentation. It is safe for concurrent use.
type Failover struct {
	cfg   Config
	chans []channel

	mu       sync.Mutex
	active   int
	seen     []checks // per channel, what the set's checks saw
	switches uint64

	checking atomic.Bool // one goroutine at a time runs the return checks
}

// channel is a Channel ready to use: its send goes through its gate and
// breaker.
type channel struct {
	Channel
	send delivery.Deliverer
}

// checks is what the set's health checks saw of one channel since it was
// last left.
type checks struct {
	passed  int       // checks passed in a row
	upSince time.Time // when the first of them ran
	last    time.Time // when the channel was last checked or left
}

// New returns a Failover over cfg.Channels, starting on the first. It
// returns an error naming the field when cfg is invalid.
func New(cfg Config) (*Failover, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Failover{cfg: cfg, chans: make([]channel, len(cfg.Channels)), seen: make([]checks, len(cfg.Channels))}
	for i, ch := range cfg.Channels {
		f.chans[i] = channel{Channel: ch, send: delivery.Chain(ch.Deliverer, delivery.WithGate(ch.Gate), delivery.WithBreaker(ch.Breaker))}
	}
	return f, nil
}

// Deliver sends m on the active channel, and on the next ones in order
// while each proves unusable (Config.Unusable). Channels the set has left
// but that have not yet passed the hysteresis are tried last, as a last
// resort, without becoming active again. It returns nil when a channel
// accepted m; the outcome of the channel that answered (a 400, a 503, a
// timeout awaiting a response) as a *ChannelError of the same class; or,
// when every channel was unusable, an *ExhaustedError: Unavailable if no
// channel was even tried, Ephemeral otherwise. When ctx ends it returns
// at once with the current channel's error. Under a Dispatcher it reports
// the channel of each send with delivery.ReportChannel, so the stored
// attempt's Channel names the channel that answered (the last one tried
// when none could take m).
func (f *Failover) Deliver(ctx context.Context, m *delivery.Message) error {
	if m == nil {
		return classify.Permanent(errors.New("failover: nil message"))
	}
	f.considerReturn(ctx)
	start := f.activeIndex()
	n := len(f.chans)
	var failures []*ChannelError
	for k := range n {
		i := (start + k) % n
		ch := &f.chans[i]
		began := time.Now()
		err := ch.send.Deliver(ctx, m)
		delivery.ReportChannel(ctx, ch.Name) // the last channel tried is the attempt's
		if hook := f.cfg.OnSend; hook != nil {
			hook(ctx, Send{Set: f.cfg.Name, Channel: ch.Name, Message: m, Err: err, Duration: time.Since(began)})
		}
		if err == nil {
			return nil
		}
		ce := &ChannelError{Channel: ch.Name, Err: err}
		if ctx.Err() != nil || !f.cfg.Unusable(err) {
			return ce
		}
		f.left(i, err)
		failures = append(failures, ce)
	}
	return exhausted(failures)
}

// Active returns the name of the channel the set sends on first.
func (f *Failover) Active() string {
	return f.chans[f.activeIndex()].Name
}

// Switches returns how many times the active channel has changed.
func (f *Failover) Switches() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.switches
}

func (f *Failover) activeIndex() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.active
}

// left records that channel i proved unusable with err: its checks start
// over, and if it was active the next channel becomes active.
func (f *Failover) left(i int, err error) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[i] = checks{last: now}
	if f.active == i && i+1 < len(f.chans) {
		f.switchTo(i+1, classify.Cause(err), err, now)
	}
}

// switchTo makes channel to active. f.mu is held.
func (f *Failover) switchTo(to int, cause string, err error, now time.Time) {
	from := f.active
	f.active = to
	f.switches++
	if f.cfg.OnSwitch != nil {
		f.cfg.OnSwitch(Switch{Set: f.cfg.Name, From: f.chans[from].Name, To: f.chans[to].Name, Cause: cause, Err: err, At: now})
	}
}

// considerReturn checks the channels above the active one that are due a
// check, highest priority first, and returns to the first that has passed
// ReturnChecks checks in a row over at least ReturnHold. One goroutine at
// a time does this; the others go on with the active channel.
func (f *Failover) considerReturn(ctx context.Context) {
	if f.activeIndex() == 0 || !f.checking.CompareAndSwap(false, true) {
		return
	}
	defer f.checking.Store(false)
	for j := 0; j < f.activeIndex(); j++ {
		if !f.due(j) {
			continue
		}
		up := f.chans[j].up(ctx)
		if ctx.Err() != nil {
			return // the caller gave up; the check says nothing
		}
		if f.record(j, up) {
			return
		}
	}
}

// due reports whether channel j is due a check.
func (f *Failover) due(j int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Since(f.seen[j].last) >= f.cfg.CheckInterval
}

// record notes a check of channel j and returns to it if it has now
// passed the hysteresis. It reports whether it switched.
func (f *Failover) record(j int, up bool) bool {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &f.seen[j]
	s.last = now
	if !up {
		s.passed, s.upSince = 0, time.Time{}
		return false
	}
	if s.passed == 0 {
		s.upSince = now
	}
	s.passed++
	if s.passed >= f.cfg.ReturnChecks && now.Sub(s.upSince) >= f.cfg.ReturnHold && j < f.active {
		f.switchTo(j, CauseRecovered, nil, now)
		return true
	}
	return false
}

// up is the set's health check of a channel: its breaker would let a call
// through and its gate allows. A channel with neither is always up.
func (c *channel) up(ctx context.Context) bool {
	if c.Breaker != nil && c.Breaker.Peek() != nil {
		return false
	}
	return c.Gate == nil || c.Gate.Allow(ctx) == nil
}
