package httpclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/outbound-go/outbound/internal/defaults"
)

// Defaults of Config.
const (
	// DefaultMaxConnsPerHost bounds connections to one partner host. A
	// backlog can never open more sockets than this: an
	// unbounded backlog fan-out once exhausted a service's sockets; one
	// shared client with 25 connections and keep-alive did not.
	DefaultMaxConnsPerHost       = 25
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultDialTimeout           = 10 * time.Second
	DefaultKeepAlive             = 30 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultClientTimeout         = 60 * time.Second
	// DefaultMaxResponseHeaderBytes bounds a response's header block
	// (1 MiB). net/http's own bound is 10 MiB, which lets a few dozen
	// concurrent answers with huge headers take hundreds of MiB of heap.
	DefaultMaxResponseHeaderBytes = 1 << 20
)

// Config configures the shared HTTP client built by New. Every
// field's zero value selects a safe default.
type Config struct {
	// MaxConnsPerHost bounds connections (dialing, active and idle) to one
	// host. Zero means DefaultMaxConnsPerHost (25). Requests beyond it wait
	// for a connection instead of opening a socket.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost is how many idle keep-alive connections are kept
	// per host. Zero means MaxConnsPerHost, so every connection can be
	// reused rather than closed and redialled.
	MaxIdleConnsPerHost int
	// IdleConnTimeout closes idle connections after this long. Zero means
	// DefaultIdleConnTimeout (90s).
	IdleConnTimeout time.Duration
	// DialTimeout bounds establishing a TCP connection. Zero means
	// DefaultDialTimeout (10s).
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive probe interval. Zero means
	// DefaultKeepAlive (30s).
	KeepAlive time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake. Zero means
	// DefaultTLSHandshakeTimeout (10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers after the
	// request is written. Zero means DefaultResponseHeaderTimeout (30s).
	ResponseHeaderTimeout time.Duration
	// MaxResponseHeaderBytes bounds the size of a response's header block.
	// Zero means DefaultMaxResponseHeaderBytes (1 MiB). A response whose
	// headers are larger fails the attempt with net/http's "server
	// response headers exceeded" error, which classify.Of treats as
	// Ephemeral (retried, then dead-lettered).
	MaxResponseHeaderBytes int64
	// Timeout bounds a whole request including reading the body. Zero means
	// DefaultClientTimeout (60s); negative means no overall limit (use a
	// per-attempt WithTimeout instead).
	Timeout time.Duration
	// TLSConfig, if set, is cloned into the transport (for client
	// certificates or private roots). Certificate verification stays on
	// unless the caller explicitly turns it off in this config.
	TLSConfig *tls.Config
	// Proxy selects a proxy per request. Nil means
	// http.ProxyFromEnvironment, except with BlockPrivateAddresses, where
	// it means no proxy. Setting Proxy together with BlockPrivateAddresses
	// is a configuration error: the guard would judge the proxy's address,
	// not the partner's, and so guard nothing. For the same reason the
	// guard refuses every dial of a transport whose Proxy field was set
	// after NewTransport returned it (see BlockPrivateAddresses).
	Proxy func(*http.Request) (*url.URL, error)
	// BlockPrivateAddresses turns on the dial guard: connections to
	// loopback, private, link-local (including cloud metadata at
	// 169.254.169.254), unspecified, multicast, shared (100.64.0.0/10) and
	// reserved (192.0.0.0/24, 198.18.0.0/15, 240.0.0.0/4) addresses, and
	// to NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16)
	// addresses that embed one of those, are refused after DNS resolution,
	// at dial time, so DNS rebinding cannot slip past. So are the other
	// special-purpose ranges of the IANA IPv4 and IPv6 registries
	// (documentation, benchmarking, Teredo, ORCHID, discard-only, IPv6
	// outside global unicast such as fec0::/10) as listed by
	// code.dny.dev/ssrf, reported as "reserved". Use it when URLs come
	// from users (webhook endpoints). Refusals are Permanent errors of type
	// *BlockedAddressError. It cannot be combined with Proxy, and the
	// guarded transport cannot be given one later: once its Proxy field is
	// set, every dial fails with a Permanent error, so a proxy can never
	// carry a request to an address the guard would refuse. (A copy made
	// with Transport.Clone shares the guard, which watches the original's
	// Proxy field: give a clone no Proxy either; build another transport
	// with NewTransport instead.)
	BlockPrivateAddresses bool
	// AllowedAddresses are addresses (IP and port) the dial guard lets
	// through although BlockPrivateAddresses would refuse them: an
	// internal service the partner list may name on purpose, or a test
	// server on loopback. Only exact matches are let through; it has no
	// effect without BlockPrivateAddresses.
	AllowedAddresses []netip.AddrPort
	// Resolver, if set, resolves host names for the dialer instead of the
	// system resolver: answers cached for their TTL and served stale while
	// upstream fails (see CachingResolver). The dial guard still judges
	// every address dialled. Nil means the system resolver. The client
	// does not own it: Close it when no client uses it any more.
	Resolver *CachingResolver
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	neg := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("httpclient: Config.%s must not be negative, got %d", name, v))
		}
	}
	neg("MaxConnsPerHost", int64(c.MaxConnsPerHost))
	neg("MaxIdleConnsPerHost", int64(c.MaxIdleConnsPerHost))
	neg("IdleConnTimeout", int64(c.IdleConnTimeout))
	neg("DialTimeout", int64(c.DialTimeout))
	neg("KeepAlive", int64(c.KeepAlive))
	neg("TLSHandshakeTimeout", int64(c.TLSHandshakeTimeout))
	neg("ResponseHeaderTimeout", int64(c.ResponseHeaderTimeout))
	neg("MaxResponseHeaderBytes", c.MaxResponseHeaderBytes)
	if c.Proxy != nil && c.BlockPrivateAddresses {
		errs = append(errs, errors.New("httpclient: Config.Proxy cannot be combined with BlockPrivateAddresses: "+
			"the dial guard would judge the proxy's address, not the partner's"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	defaults.Set(&c.MaxConnsPerHost, DefaultMaxConnsPerHost)
	defaults.Set(&c.MaxIdleConnsPerHost, c.MaxConnsPerHost)
	defaults.Set(&c.IdleConnTimeout, DefaultIdleConnTimeout)
	defaults.Set(&c.DialTimeout, DefaultDialTimeout)
	defaults.Set(&c.KeepAlive, DefaultKeepAlive)
	defaults.Set(&c.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	defaults.Set(&c.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	defaults.Set(&c.MaxResponseHeaderBytes, DefaultMaxResponseHeaderBytes)
	defaults.Set(&c.Timeout, DefaultClientTimeout)
	if c.Timeout < 0 {
		c.Timeout = 0
	}
	if c.Proxy == nil && !c.BlockPrivateAddresses {
		c.Proxy = http.ProxyFromEnvironment
	}
	return c, nil
}

// NewTransport returns an *http.Transport configured by cfg: keep-alive on,
// connections per host bounded, an idle pool sized to match, dial, TLS and
// response-header timeouts, response headers bounded, a proxy's refusal of
// a CONNECT reported as a *ProxyError (CheckProxyConnect), and the dial
// guard if asked for. It returns an error naming the field when a setting
// is negative or Proxy is set with BlockPrivateAddresses.
func NewTransport(cfg Config) (*http.Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return newTransport(cfg), nil
}

// New returns an *http.Client over NewTransport(cfg) whose redirect
// policy is CheckRedirect, meant to be created once and shared by every
// deliverer that talks to the same partners. It returns an error naming
// the field when a setting is negative or Proxy is set with
// BlockPrivateAddresses.
func New(cfg Config) (*http.Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: newTransport(cfg), Timeout: cfg.Timeout, CheckRedirect: CheckRedirect}, nil
}

func newTransport(cfg Config) *http.Transport {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: cfg.KeepAlive}
	dial := dialer.DialContext
	if cfg.Resolver != nil {
		dial = (&resolvingDialer{dialer: dialer, resolver: cfg.Resolver}).DialContext
	}
	t := &http.Transport{
		Proxy:                  cfg.Proxy,
		DialContext:            dial,
		OnProxyConnectResponse: CheckProxyConnect,
		MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
		ForceAttemptHTTP2:      true,
		MaxConnsPerHost:        cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		MaxIdleConns:           max(100, cfg.MaxIdleConnsPerHost),
		IdleConnTimeout:        cfg.IdleConnTimeout,
		TLSHandshakeTimeout:    cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
	}
	if cfg.TLSConfig != nil {
		t.TLSClientConfig = cfg.TLSConfig.Clone()
	}
	if cfg.BlockPrivateAddresses {
		g := &dialGuard{transport: t, exempt: slices.Clone(cfg.AllowedAddresses)}
		dialer.Control = g.control // the resolving dialer dials through dialer too
		t.DialContext = g.dialContext(dial)
	}
	return t
}
