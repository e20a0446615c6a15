package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/outbound-go/outbound/internal/defaults"
)

// Defaults of ResolverConfig.
const (
	DefaultMinTTL          = 5 * time.Second
	DefaultMaxTTL          = 5 * time.Minute
	DefaultMaxStale        = time.Hour
	DefaultNegativeTTL     = 5 * time.Second
	DefaultRefreshInterval = 10 * time.Second
	DefaultResolverTimeout = 2 * time.Second
	DefaultMaxNames        = 4096
)

// ResolverConfig configures a CachingResolver. Every field's zero value
// selects a safe default.
type ResolverConfig struct {
	// Servers are the upstream DNS servers, "host:port", asked in order
	// until one answers. Empty means the nameservers of /etc/resolv.conf
	// (port 53).
	Servers []string
	// MinTTL and MaxTTL bound how long an answer is used as fresh: its
	// smallest record TTL, raised to MinTTL and cut to MaxTTL. Zero means
	// DefaultMinTTL (5s) and DefaultMaxTTL (5m).
	MinTTL, MaxTTL time.Duration
	// MaxStale is how long past its TTL an answer is still served while
	// upstream fails or refreshes (RFC 8767 serve-stale). Zero means
	// DefaultMaxStale (1h).
	MaxStale time.Duration
	// NegativeTTL is how long "no such host" and "no addresses" answers
	// for a name without a usable answer are cached. Zero means
	// DefaultNegativeTTL (5s).
	NegativeTTL time.Duration
	// RefreshInterval is the least time between two upstream queries for
	// one name while its answer is stale or upstream fails: the resolver
	// asks upstream at most once per interval per name, never once per
	// request. Zero means DefaultRefreshInterval (10s).
	RefreshInterval time.Duration
	// Timeout bounds each query to one server. Zero means
	// DefaultResolverTimeout (2s).
	Timeout time.Duration
	// MaxNames bounds the names cached; when full, answers past their
	// stale limit go first. Zero means DefaultMaxNames (4096).
	MaxNames int
}

func (c ResolverConfig) withDefaults() (ResolverConfig, error) {
	var errs []error
	for name, v := range map[string]time.Duration{"MinTTL": c.MinTTL, "MaxTTL": c.MaxTTL, "MaxStale": c.MaxStale,
		"NegativeTTL": c.NegativeTTL, "RefreshInterval": c.RefreshInterval, "Timeout": c.Timeout} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("httpclient: ResolverConfig.%s must not be negative, got %v", name, v))
		}
	}
	if c.MaxNames < 0 {
		errs = append(errs, fmt.Errorf("httpclient: ResolverConfig.MaxNames must not be negative, got %d", c.MaxNames))
	}
	defaults.Set(&c.MinTTL, DefaultMinTTL)
	defaults.Set(&c.MaxTTL, DefaultMaxTTL)
	if c.MaxTTL < c.MinTTL {
		errs = append(errs, fmt.Errorf("httpclient: ResolverConfig.MaxTTL (%v) is below MinTTL (%v)", c.MaxTTL, c.MinTTL))
	}
	for i, s := range c.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			errs = append(errs, fmt.Errorf("httpclient: ResolverConfig.Servers[%d] %q is not host:port: %w", i, s, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	defaults.Set(&c.MaxStale, DefaultMaxStale)
	defaults.Set(&c.NegativeTTL, DefaultNegativeTTL)
	defaults.Set(&c.RefreshInterval, DefaultRefreshInterval)
	defaults.Set(&c.Timeout, DefaultResolverTimeout)
	defaults.Set(&c.MaxNames, DefaultMaxNames)
	if len(c.Servers) == 0 {
		servers, err := systemNameservers("/etc/resolv.conf")
		if err != nil {
			return c, err
		}
		c.Servers = servers
	}
	return c, nil
}

// CachingResolver resolves host names for the shared client's dialer
// (Config.Resolver) and caches the answers, so that a resolver's bad
// minute does not fail every request. It asks the upstream servers
// itself, over UDP and, for truncated answers, TCP, to learn the records'
// TTLs.
//
//   - A positive answer is fresh for its TTL, bounded by MinTTL and
//     MaxTTL.
//   - Past its TTL it is served stale, for up to MaxStale, while a
//     background query refreshes it: the first lookup after the TTL
//     starts one, and while upstream fails, one more per RefreshInterval
//     at most. NXDOMAIN for a name that resolved before, SERVFAIL and
//     timeouts leave the stale answer in use (RFC 8767). A lookup never
//     waits for a refresh: the first one after the TTL gets the expired
//     answer.
//   - Past MaxStale, or for a name never resolved, the lookup asks
//     upstream and waits (concurrent lookups of one name share one query);
//     failures are returned as *net.DNSError, which classify calls
//     Ephemeral with cause "dns". "No such host" and "no addresses" are
//     cached for NegativeTTL, other failures for RefreshInterval.
//
// Names are looked up as given, fully qualified: /etc/hosts and the search
// domains of resolv.conf are not consulted, so use it for partners' public
// names. It is safe for concurrent use. Close stops its background
// queries.
type CachingResolver struct {
	cfg ResolverConfig
	// exchange asks one server one question; tests replace it.
	exchange func(ctx context.Context, server string, name dnsmessage.Name, qtype dnsmessage.Type) (answer, error)

	ctx    context.Context // ends on Close; bounds every query
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	names   map[string]*entry
	flights map[string]*flight
}

// entry is what the resolver knows of one name.
type entry struct {
	addrs     []netip.Addr // the last positive answer, nil if none
	expires   time.Time    // when addrs stop being fresh
	failErr   error        // the last failure, returned until failUntil when addrs cannot be served
	failUntil time.Time
	lastAsked time.Time // when upstream was last asked
}

// flight is one upstream resolution shared by concurrent lookups.
type flight struct {
	done  chan struct{}
	addrs []netip.Addr
	err   error
}

// NewCachingResolver returns a resolver for cfg. It returns an error
// naming the field when cfg is invalid, or when cfg.Servers is empty and
// /etc/resolv.conf names no nameserver.
func NewCachingResolver(cfg ResolverConfig) (*CachingResolver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &CachingResolver{cfg: cfg, exchange: exchange, ctx: ctx, cancel: cancel,
		names: make(map[string]*entry), flights: make(map[string]*flight)}, nil
}

// errResolverClosed is returned by lookups after Close.
var errResolverClosed = errors.New("httpclient: caching resolver is closed")

// Close stops background refreshes and waits for running queries to end.
// Lookups after Close fail. It always returns nil.
func (r *CachingResolver) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return nil
}

// LookupNetIP returns host's addresses, IPv6 first, as described on
// CachingResolver. An IP literal is returned as is. It returns a
// *net.DNSError naming the failure when there is no answer to serve, and
// ctx's error if ctx ends first.
func (r *CachingResolver) LookupNetIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{addr}, nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	now := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errResolverClosed
	}
	e := r.names[name]
	if e != nil && e.addrs != nil && now.Before(e.expires.Add(r.cfg.MaxStale)) {
		// Expired: serve it stale and refresh in the background, at once
		// if nobody asked upstream since it expired, else at most once per
		// RefreshInterval.
		if !now.Before(e.expires) && (e.lastAsked.Before(e.expires) || now.Sub(e.lastAsked) >= r.cfg.RefreshInterval) {
			r.startLocked(name, now)
		}
		addrs := slices.Clone(e.addrs)
		r.mu.Unlock()
		return addrs, nil
	}
	if e != nil && e.failErr != nil && now.Before(e.failUntil) {
		err := e.failErr
		r.mu.Unlock()
		return nil, err
	}
	f := r.startLocked(name, now)
	r.mu.Unlock()
	select {
	case <-f.done:
		return slices.Clone(f.addrs), f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startLocked returns the flight resolving name, starting one if none is
// running. r.mu is held and the resolver is open.
func (r *CachingResolver) startLocked(name string, now time.Time) *flight {
	if f := r.flights[name]; f != nil {
		return f
	}
	f := &flight{done: make(chan struct{})}
	r.flights[name] = f
	e := r.entryLocked(name, now)
	e.lastAsked = now
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(f.done)
		a, server, err := r.resolve(name)
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.flights, name)
		f.addrs, f.err = r.settleLocked(name, a, server, err, time.Now())
	}()
	return f
}

// entryLocked returns name's entry, making room for it if needed.
func (r *CachingResolver) entryLocked(name string, now time.Time) *entry {
	if e := r.names[name]; e != nil {
		return e
	}
	if len(r.names) >= r.cfg.MaxNames {
		for n, e := range r.names {
			if now.After(e.expires.Add(r.cfg.MaxStale)) && now.After(e.failUntil) && r.flights[n] == nil {
				delete(r.names, n)
			}
		}
		for n := range r.names {
			if len(r.names) < r.cfg.MaxNames {
				break
			}
			if r.flights[n] == nil {
				delete(r.names, n)
			}
		}
	}
	e := &entry{}
	r.names[name] = e
	return e
}

// settleLocked records the outcome of a resolution and returns what the
// lookups waiting for it get. r.mu is held.
func (r *CachingResolver) settleLocked(name string, a answer, server string, err error, now time.Time) ([]netip.Addr, error) {
	e := r.entryLocked(name, now)
	if err == nil && len(a.addrs) > 0 {
		e.addrs = a.addrs
		e.expires = now.Add(min(max(a.ttl, r.cfg.MinTTL), r.cfg.MaxTTL))
		e.failErr, e.failUntil = nil, time.Time{}
		return a.addrs, nil
	}
	dnsErr := &net.DNSError{Name: name, Server: server}
	hold := r.cfg.RefreshInterval
	switch {
	case err != nil:
		dnsErr.Err = err.Error()
		dnsErr.IsTimeout = isTimeout(err)
		dnsErr.IsTemporary = true
	case a.rcode == dnsmessage.RCodeNameError:
		dnsErr.Err = "no such host (NXDOMAIN)"
		dnsErr.IsNotFound = true
		hold = r.cfg.NegativeTTL
	default:
		dnsErr.Err = "no A or AAAA records"
		dnsErr.IsNotFound = true
		hold = r.cfg.NegativeTTL
	}
	if e.addrs != nil {
		if now.Before(e.expires.Add(r.cfg.MaxStale)) {
			return e.addrs, nil // serve stale
		}
		dnsErr.Err += fmt.Sprintf("; the last answer expired %v ago, past the %v it may be served stale",
			now.Sub(e.expires).Round(time.Second), r.cfg.MaxStale)
		hold = r.cfg.RefreshInterval
	}
	e.failErr, e.failUntil = dnsErr, now.Add(hold)
	return nil, dnsErr
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// resolve asks upstream for name's AAAA and A records at once and merges
// the answers, IPv6 first. server is the server whose answer or failure
// decided.
func (r *CachingResolver) resolve(name string) (answer, string, error) {
	fqdn, err := dnsmessage.NewName(name + ".")
	if err != nil {
		return answer{}, "", fmt.Errorf("invalid name: %w", err)
	}
	type result struct {
		a      answer
		server string
		err    error
	}
	var v6 result
	done := make(chan struct{})
	go func() {
		defer close(done)
		v6.a, v6.server, v6.err = r.ask(fqdn, dnsmessage.TypeAAAA)
	}()
	var v4 result
	v4.a, v4.server, v4.err = r.ask(fqdn, dnsmessage.TypeA)
	<-done

	merged := answer{rcode: dnsmessage.RCodeSuccess}
	for _, res := range []result{v6, v4} {
		if res.err == nil && len(res.a.addrs) > 0 {
			if len(merged.addrs) == 0 || res.a.ttl < merged.ttl {
				merged.ttl = res.a.ttl
			}
			merged.addrs = append(merged.addrs, res.a.addrs...)
		}
	}
	switch {
	case len(merged.addrs) > 0:
		return merged, v4.server, nil
	case v4.err != nil:
		return answer{}, v4.server, v4.err
	case v6.err != nil:
		return answer{}, v6.server, v6.err
	case v4.a.rcode == dnsmessage.RCodeNameError || v6.a.rcode == dnsmessage.RCodeNameError:
		merged.rcode = dnsmessage.RCodeNameError
	}
	return merged, v4.server, nil
}

// ask tries the servers in order until one answers with success or "no
// such name", and returns that answer or the last failure.
func (r *CachingResolver) ask(name dnsmessage.Name, qtype dnsmessage.Type) (answer, string, error) {
	var (
		lastErr    error
		lastServer string
	)
	for _, server := range r.cfg.Servers {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
		a, err := r.exchange(ctx, server, name, qtype)
		cancel()
		lastServer = server
		switch {
		case err != nil:
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				err = fmt.Errorf("no answer within %v: %w", r.cfg.Timeout, os.ErrDeadlineExceeded)
			}
			lastErr = err
		case a.rcode == dnsmessage.RCodeSuccess || a.rcode == dnsmessage.RCodeNameError:
			return a, server, nil
		default:
			lastErr = fmt.Errorf("server answered %s", rcodeName(a.rcode))
		}
		if r.ctx.Err() != nil {
			return answer{}, server, errResolverClosed
		}
	}
	return answer{}, lastServer, lastErr
}

func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	}
	return fmt.Sprintf("rcode %d", c)
}
