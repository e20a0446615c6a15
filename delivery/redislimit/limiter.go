package redislimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// DefaultPrefix starts every key when Config.Prefix is empty.
const DefaultPrefix = "outbound:rate:"

// Config configures a Limiter.
type Config struct {
	// Prefix starts every key the limiter writes, so several applications
	// can share a Redis database. Empty means DefaultPrefix.
	Prefix string
}

// Limiter takes tokens of fleet-wide rate limits from Redis. It is safe
// for concurrent use.
type Limiter struct {
	client goredis.UniversalClient
	prefix string
	// The only uses of this process's clock: the deadline check and the
	// wait for the next token (replaced by tests to skew them).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// ErrInvalid is wrapped by the errors for bad input.
var ErrInvalid = errors.New("redislimit: invalid input")

// New returns a Limiter on client. It returns an error wrapping ErrInvalid
// for a nil client.
func New(client goredis.UniversalClient, cfg Config) (*Limiter, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: a client is required", ErrInvalid)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	return &Limiter{client: client, prefix: cfg.Prefix, now: time.Now, sleep: sleep}, nil
}

// take runs GCRA on KEYS[1], the theoretical arrival time in microseconds
// of the server's clock: ARGV[1] is the emission interval and ARGV[2] the
// burst, both in microseconds and records. It returns 0 when a token was
// taken, else how many microseconds until the next one. The key expires
// once the limit has fully refilled, so idle destinations cost nothing.
var take = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local iv = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - (burst - 1) * iv
if wait > 0 then return wait end
local nxt = tat + iv
redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return 0
`)

// Take takes one token of the limit named key (rate per second, burst at
// once) if there is one, and returns 0; otherwise it takes nothing and
// returns how long until the next token. rate must be within
// delivery.MinRate..delivery.MaxRate and burst within 0..delivery.MaxBurst
// (0 counts as 1); otherwise the error wraps ErrInvalid. A Redis failure
// is returned as it is.
func (l *Limiter) Take(ctx context.Context, key string, rate float64, burst int) (time.Duration, error) {
	if err := delivery.ValidateDestinationLimits(delivery.DestinationLimits{Rate: rate, Burst: burst}); err != nil || rate == 0 {
		return 0, fmt.Errorf("%w: rate %v, burst %d", ErrInvalid, rate, burst)
	}
	iv := delivery.EmissionInterval(rate).Microseconds()
	wait, err := take.Run(ctx, l.client, []string{l.prefix + key}, iv, max(burst, 1)).Int64()
	if err != nil {
		return 0, fmt.Errorf("redislimit: take %q: %w", key, err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}

// Wait takes one token of the limit named key, waiting for it; it returns
// ctx's error if ctx ends first, or at once when ctx's deadline comes
// before the next token (an error wrapping context.DeadlineExceeded). A
// Take error is returned as it is.
//
// This process's clock enters only here, and only to wait: the wait Redis
// returns is slept, then the token is asked for again. A process whose
// clock is off, or whose timers fire early or late, asks again early (and
// is told to wait again) or late (and sends less); neither can take more
// than the limit.
func (l *Limiter) Wait(ctx context.Context, key string, rate float64, burst int) error {
	for {
		wait, err := l.Take(ctx, key, rate, burst)
		if err != nil || wait == 0 {
			return err
		}
		if deadline, ok := ctx.Deadline(); ok && deadline.Sub(l.now()) < wait {
			return fmt.Errorf("redislimit: next token of %q in %v, after the deadline: %w", key, wait, context.DeadlineExceeded)
		}
		if err := l.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// sleep waits for d or ctx's end, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rule gives the limit of a message: its key and rate; ok false means no
// limit.
type Rule func(m *delivery.Message) (key string, rate float64, burst int, ok bool)

// PerDestination limits every destination to rate per second with burst,
// each under its own key (its name).
func PerDestination(rate float64, burst int) Rule {
	return func(m *delivery.Message) (string, float64, int, bool) {
		return "dest:" + strings.ReplaceAll(m.Destination, ":", "::"), rate, burst, true
	}
}

// Middleware waits for a token of the message's limit before each
// attempt. A wait cut off by ctx, or that would outlast its deadline, is
// an Unavailable error (no attempt spent); a Redis failure is Unavailable
// too, so an outage of Redis holds records back rather than sending them
// unlimited; a bad rule (invalid rate) is Permanent.
func (l *Limiter) Middleware(rule Rule) delivery.Middleware {
	return func(next delivery.Deliverer) delivery.Deliverer {
		return delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
			if key, rate, burst, ok := rule(m); ok {
				if err := l.Wait(ctx, key, rate, burst); err != nil {
					if errors.Is(err, ErrInvalid) {
						return classify.Permanent(err)
					}
					return classify.Unavailable(err)
				}
			}
			return next.Deliver(ctx, m)
		})
	}
}
