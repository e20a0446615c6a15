package tokencache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/nilcheck"
)

// ErrClosed is wrapped by the error Token and Invalidate return after
// Close. That error is classify.ClassUnavailable: a record that could not be
// sent because its service is shutting down must wait, not fail.
var ErrClosed = errors.New("tokencache: cache is closed")

// errClosed is what Token and Invalidate return after Close.
var errClosed = classify.Unavailable(ErrClosed)

// waitErr is what Token returns when the caller's ctx ends before a token
// could be had: the partner was never tried, whatever ended the wait (the
// caller's deadline is not the partner being slow).
func waitErr(ctx context.Context) error {
	return classify.Unavailable(fmt.Errorf("tokencache: waiting for token: %w", ctx.Err()))
}

// flightKey is the one singleflight key: a Cache holds one token.
const flightKey = "refresh"

// entry is the token the cache hands out, with its precomputed deadlines.
// An entry is immutable once published, except for fresh.
type entry struct {
	tok Token
	// hitUntil is Expiry - skew: until then Token returns tok without
	// further work.
	hitUntil time.Time
	// renewAt is when a refresh wants a newer token: hitUntil, or one skew
	// earlier with ProactiveRefresh.
	renewAt time.Time
	// fresh is true from install until hitUntil. A timer clears it, so the
	// hit path reads one atomic instead of the clock (time.Now costs more
	// than the rest of the hit path together on many virtual machines).
	fresh atomic.Bool
	timer *time.Timer
}

// arm marks e fresh until hitUntil. It must be called before e is published.
func (e *entry) arm() {
	d := time.Until(e.hitUntil)
	if d <= 0 {
		return
	}
	e.fresh.Store(true)
	e.timer = time.AfterFunc(d, func() { e.fresh.Store(false) })
}

// retire marks e stale at once and stops its timer.
func (e *entry) retire() {
	e.fresh.Store(false)
	if e.timer != nil {
		e.timer.Stop()
	}
}

// closedEntry marks a closed cache; it is never fresh, which sends every
// call to the slow path, which reports ErrClosed.
var closedEntry = &entry{}

// Cache hands out one token to all goroutines of a process, and through its
// Store to all processes sharing that store, minting a new one only when the
// current one is about to expire or has been rejected.
//
// A Cache is safe for concurrent use. Close it to stop the background
// refresher and wait for a running refresh.
type Cache struct {
	src    Source
	cfg    Config
	cur    atomic.Pointer[entry]
	reject atomic.Pointer[string] // the last value passed to Invalidate
	flight singleflight.Group
	pacer  pacer
	kick   chan struct{} // wakes the proactive refresher; nil without it

	ctx    context.Context // ends at Close; parent of every refresh
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
}

// New returns a Cache that mints tokens from src as configured by cfg. It
// returns an error naming the field if cfg is invalid, or if src is nil. With
// cfg.ProactiveRefresh it starts fetching the first token in the background
// at once.
func New(src Source, cfg Config) (*Cache, error) {
	if src == nil {
		return nil, errors.New("tokencache: New: source is nil")
	}
	if nilcheck.Typed(src) {
		return nil, fmt.Errorf("tokencache: New: source is a nil %T", src)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cache{src: src, cfg: cfg}
	c.pacer.base, c.pacer.max = cfg.FailureBackoff, cfg.MaxFailureBackoff
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if cfg.ProactiveRefresh {
		c.kick = make(chan struct{}, 1)
		c.wg.Add(1)
		go c.refreshAhead()
	}
	return c, nil
}

// Token returns the current token, refreshing it first if it is within the
// refresh skew of its expiry (or missing, or invalidated).
//
// While the token is fresh, Token returns at once, without allocating,
// blocking or reading the clock: a timer marks the token stale at
// Expiry - skew. Go timers follow the monotonic clock, which on Linux stops
// while the machine is suspended, so right after a resume a token may be
// handed out late; the partner's 401, through Transport or Invalidate,
// recovers from that.
//
// Otherwise one goroutine per process refreshes the token, first from the
// shared Store and, only if the store has nothing fresh, by minting under
// the store's lock; every other caller waits for that refresh. A caller
// whose ctx ends stops waiting; the refresh goes on for the others.
//
// If the refresh fails but the old token has not expired yet, Token returns
// the old token. Every error Token returns is of class
// classify.ClassUnavailable, because the partner was never tried, so a
// dispatcher defers the record without counting an attempt:
//   - a failed refresh (the Source failed, with or without a working
//     Store) wraps the cause, with the backoff pause as its Retry-After;
//   - during the backoff pause after a failure, calls fail at once with an
//     error wrapping ErrBackoff, whose Retry-After is the time left;
//   - a caller whose ctx ended gets an error wrapping ctx.Err()
//     (context.Canceled or context.DeadlineExceeded);
//   - after Close, an error wrapping ErrClosed.
func (c *Cache) Token(ctx context.Context) (Token, error) {
	if e := c.cur.Load(); e != nil && e.fresh.Load() {
		return e.tok, nil
	}
	return c.wait(ctx)
}

// wait is Token's slow path: the token is missing or due for refresh.
func (c *Cache) wait(ctx context.Context) (Token, error) {
	if ctx.Err() != nil {
		return Token{}, waitErr(ctx)
	}
	e := c.cur.Load()
	if e == closedEntry {
		return Token{}, errClosed
	}
	if e != nil && e.fresh.Load() {
		return e.tok, nil
	}
	now := time.Now()
	if wait := c.pacer.wait(now); wait > 0 {
		if tok, ok := c.unexpired(now); ok {
			return tok, nil
		}
		return Token{}, c.pacer.err(wait)
	}
	select {
	case <-ctx.Done():
		return Token{}, waitErr(ctx)
	case r := <-c.flight.DoChan(flightKey, c.refresh):
		if r.Err != nil {
			if tok, ok := c.unexpired(time.Now()); ok {
				return tok, nil
			}
			return Token{}, r.Err // classified by refresh
		}
		return r.Val.(Token), nil
	}
}

// unexpired returns the cached token if it has not expired at now, even
// though it is past its skew: better than no token while refreshes fail.
func (c *Cache) unexpired(now time.Time) (Token, bool) {
	e := c.cur.Load()
	if e == nil || e == closedEntry || !now.Before(e.tok.Expiry) {
		return Token{}, false
	}
	return e.tok, true
}

// Invalidate tells the cache that the partner rejected the token (say with a
// 401). If the cache still holds that token it drops it, and the store's copy
// is deleted only if the store still holds that exact value, so a newer token
// minted meanwhile by another process survives. The next Token call
// refreshes.
//
// A token with an empty Value is ignored. Repeated rejections of freshly
// minted tokens pause refreshes like mint failures do (Config.FailureBackoff),
// so a partner that rejects every token does not drain the issuer's quota.
// After Close, Invalidate returns an error wrapping ErrClosed (class
// classify.ClassUnavailable). It returns an error if the store's delete
// failed; the in-process token is dropped either way.
func (c *Cache) Invalidate(ctx context.Context, rejected Token) error {
	v := rejected.Value
	if v == "" {
		return nil
	}
	if c.cur.Load() == closedEntry {
		return errClosed
	}
	c.reject.Store(&v)
	for {
		e := c.cur.Load()
		if e == nil || e == closedEntry || e.tok.Value != v {
			break
		}
		if c.cur.CompareAndSwap(e, nil) {
			e.retire()
			c.pacer.rejected(time.Now())
			c.emit(Event{Kind: EventInvalidated, Expiry: e.tok.Expiry})
			c.wake()
			break
		}
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.StoreTimeout)
	defer cancel()
	if _, err := c.cfg.Store.CompareAndDelete(sctx, c.cfg.Key, v); err != nil {
		c.storeError("delete", err)
		return fmt.Errorf("tokencache: invalidate: %w", err)
	}
	return nil
}

// Close stops the background refresher, makes further Token and Invalidate
// calls return an error wrapping ErrClosed, and waits for a running refresh
// to return (a Source that ignores its context delays Close until it
// returns). It is safe to call more than once and always returns nil.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	if old := c.cur.Swap(closedEntry); old != nil {
		old.retire()
	}
	c.cancel()
	c.wg.Wait()
	return nil
}

// enter registers a refresh with Close, or reports false if closed.
func (c *Cache) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// refresh runs at most once at a time per Cache, under singleflight, in its
// own goroutine with the cache's context rather than any caller's. Its
// errors are class Unavailable, with the backoff pause as Retry-After.
func (c *Cache) refresh() (any, error) {
	if !c.enter() {
		return nil, errClosed
	}
	defer c.wg.Done()
	// A flight that started just after another one finished finds its
	// result here and spares the store a read.
	if e := c.cur.Load(); e != nil && e != closedEntry && time.Now().Before(e.renewAt) {
		return e.tok, nil
	}
	tok, err := c.obtain(c.ctx)
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, errClosed
		}
		pause := c.pacer.failed(time.Now(), err)
		return nil, &classify.Error{Class: classify.ClassUnavailable, RetryAfter: pause, Err: err}
	}
	c.pacer.succeeded()
	c.install(tok)
	return tok, nil
}

// obtain returns a fresh token from the store, or mints one under the
// store's lock.
//
// While another process holds the lock, obtain waits for that process's
// token: after every failed TryLock it sleeps a PollInterval and reads the
// store again. A crashed holder's lock expires within LockTTL; then one
// waiter takes it and mints, and the others keep polling and find its token,
// so a crash costs one mint, not one per waiting process. obtain mints
// without the lock only if the store fails (it fails open rather than stop
// sending), or if the lock stays taken for 2*LockTTL + MintTimeout (a store
// that never grants its lock, or holders crashing one after another), which
// it reports as EventLockTimeout.
func (c *Cache) obtain(ctx context.Context) (Token, error) {
	if tok, ok := c.loadFresh(ctx); ok {
		return tok, nil
	}
	owner := rand.Text()
	start := time.Now()
	deadline := start.Add(c.cfg.lockWait())
	locked := false
	for {
		got, err := c.tryLock(ctx, owner)
		if err != nil {
			break // the store is failing: mint rather than stop sending
		}
		if got {
			locked = true
			break
		}
		// Someone holds the lock. Waiting out one LockTTL is not enough:
		// waiters start together (they share one token with one expiry),
		// so they would all give up together, just as one of them takes
		// over the expired lock. Keep polling while the store answers, up
		// to a bound that covers a crashed holder's lock and a new
		// holder's mint.
		now := time.Now()
		if !now.Before(deadline) {
			c.emit(Event{Kind: EventLockTimeout, Duration: now.Sub(start)})
			break
		}
		if err := sleep(ctx, min(c.cfg.PollInterval, deadline.Sub(now))); err != nil {
			return Token{}, err
		}
		if tok, ok := c.loadFresh(ctx); ok {
			return tok, nil
		}
	}
	if locked {
		defer c.unlock(owner)
		// The previous holder may have stored a token between our read
		// and our lock.
		if tok, ok := c.loadFresh(ctx); ok {
			return tok, nil
		}
	}
	tok, err := c.mint(ctx)
	if err != nil {
		return Token{}, err
	}
	sctx, cancel := context.WithTimeout(ctx, c.cfg.StoreTimeout)
	defer cancel()
	if err := c.cfg.Store.Save(sctx, c.cfg.Key, tok); err != nil {
		c.storeError("save", err)
	}
	return tok, nil
}

// loadFresh returns the store's token if it is fresh enough to install.
func (c *Cache) loadFresh(ctx context.Context) (Token, bool) {
	sctx, cancel := context.WithTimeout(ctx, c.cfg.StoreTimeout)
	defer cancel()
	tok, err := c.cfg.Store.Load(sctx, c.cfg.Key)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			c.storeError("load", err)
		}
		return Token{}, false
	}
	if !c.acceptable(tok, time.Now()) {
		return Token{}, false
	}
	c.emit(Event{Kind: EventShared, Expiry: tok.Expiry})
	return tok, true
}

// acceptable reports whether tok may be installed at now: it has a value,
// was not rejected, and is not yet due for renewal.
func (c *Cache) acceptable(tok Token, now time.Time) bool {
	if tok.Value == "" {
		return false
	}
	if r := c.reject.Load(); r != nil && *r == tok.Value {
		return false
	}
	return now.Before(c.newEntry(tok).renewAt)
}

func (c *Cache) newEntry(tok Token) *entry {
	skew := c.cfg.skewFor(tok)
	e := &entry{tok: tok, hitUntil: tok.Expiry.Add(-skew)}
	e.renewAt = e.hitUntil
	if c.cfg.ProactiveRefresh {
		e.renewAt = e.hitUntil.Add(-skew)
	}
	return e
}

// install makes tok the token handed out, unless the cache is closed or tok
// was rejected meanwhile.
func (c *Cache) install(tok Token) {
	if r := c.reject.Load(); r != nil && *r == tok.Value {
		return
	}
	e := c.newEntry(tok)
	e.arm()
	for {
		old := c.cur.Load()
		if old == closedEntry {
			e.retire()
			return
		}
		if c.cur.CompareAndSwap(old, e) {
			if old != nil {
				old.retire()
			}
			return
		}
	}
}

// mint calls the Source and completes what it left out.
func (c *Cache) mint(ctx context.Context) (Token, error) {
	mctx, cancel := context.WithTimeout(ctx, c.cfg.MintTimeout)
	defer cancel()
	start := time.Now()
	tok, err := c.src.Token(mctx)
	if err != nil {
		err = safeIssuerError(fmt.Errorf("tokencache: mint: %w", err), "", "")
	} else {
		tok, err = c.complete(tok, start)
	}
	if err != nil {
		c.emit(Event{Kind: EventMintFailed, Duration: time.Since(start), Err: err})
		return Token{}, err
	}
	c.emit(Event{Kind: EventMinted, Expiry: tok.Expiry, Duration: time.Since(start)})
	return tok, nil
}

// complete checks a minted token and fills in IssuedAt, Type and Expiry.
func (c *Cache) complete(tok Token, issued time.Time) (Token, error) {
	if tok.Value == "" {
		return Token{}, errors.New("tokencache: mint: source returned an empty token")
	}
	for i := 0; i < len(tok.Value); i++ {
		if b := tok.Value[i]; b <= ' ' || b == 0x7f {
			return Token{}, errors.New("tokencache: mint: source returned a token with characters not allowed in an HTTP header")
		}
	}
	if r := c.reject.Load(); r != nil && *r == tok.Value {
		return Token{}, errors.New("tokencache: mint: source returned the token that was just rejected; a Source must mint a new token on every call")
	}
	if tok.IssuedAt.IsZero() {
		tok.IssuedAt = issued
	}
	if tok.Type == "" {
		tok.Type = "Bearer"
	}
	if tok.Expiry.IsZero() {
		if exp, err := JWTExpiry(tok.Value); err == nil {
			tok.Expiry = exp
		} else {
			tok.Expiry = tok.IssuedAt.Add(c.cfg.TTL)
		}
	}
	if !time.Now().Before(c.newEntry(tok).renewAt) {
		return Token{}, fmt.Errorf("tokencache: mint: token expires too soon to use (expiry %s); check the issuer's clock and Config.Skew",
			tok.Expiry.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

func (c *Cache) tryLock(ctx context.Context, owner string) (bool, error) {
	sctx, cancel := context.WithTimeout(ctx, c.cfg.StoreTimeout)
	defer cancel()
	got, err := c.cfg.Store.TryLock(sctx, c.cfg.Key, owner, c.cfg.LockTTL)
	if err != nil {
		c.storeError("lock", err)
	}
	return got, err
}

// unlock releases the lock even while Close cancels the refresh, so others
// need not wait for it to expire.
func (c *Cache) unlock(owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), c.cfg.StoreTimeout)
	defer cancel()
	if err := c.cfg.Store.Unlock(ctx, c.cfg.Key, owner); err != nil {
		c.storeError("unlock", err)
	}
}

func (c *Cache) storeError(op string, err error) {
	c.emit(Event{Kind: EventStoreError, Op: op, Err: err})
}

func (c *Cache) emit(e Event) {
	if c.cfg.OnEvent != nil {
		e.Key = c.cfg.Key
		c.cfg.OnEvent(e)
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
