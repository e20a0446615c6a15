package httpclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"

	"code.dny.dev/ssrf"

	"github.com/outbound-go/outbound/classify"
)

// BlockedAddressError is the cause of a dial refused by the dial guard
// (Config.BlockPrivateAddresses). It is always wrapped in a Permanent
// classify error: the partner's address will not change by retrying.
type BlockedAddressError struct {
	// Addr is the resolved address that was refused.
	Addr netip.Addr
	// Reason names the class of the judged address: "loopback",
	// "private", "link-local", "unspecified", "multicast", "shared" or
	// "reserved" (every other special-purpose range). For an address that embeds an IPv4 address (NAT64,
	// 6to4), it is the class of the embedded address.
	Reason string
	// Embedded is the IPv4 address carried inside Addr that was judged
	// (Addr is a NAT64 or 6to4 address), or the zero Addr if Addr itself
	// was judged.
	Embedded netip.Addr
}

// Error names the refused address, its class and, if the class is that of
// an embedded IPv4 address, that address.
func (e *BlockedAddressError) Error() string {
	if e.Embedded.IsValid() {
		return fmt.Sprintf("httpclient: dial guard refused %s (%s address %s embedded in it)", e.Addr, e.Reason, e.Embedded)
	}
	return fmt.Sprintf("httpclient: dial guard refused %s (%s address)", e.Addr, e.Reason)
}

var (
	sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT
	thisNetwork        = netip.MustParsePrefix("0.0.0.0/8")     // RFC 1122 "this network"
	// The special-purpose ranges of the IANA IPv4 and IPv6 registries, as
	// generated from them by code.dny.dev/ssrf (copied here, at start-up,
	// so nothing can change them afterwards): no partner is reachable at
	// them, and some networks route them internally. IPv6 outside global
	// unicast (2000::/3) is reserved as a whole.
	reservedIPv4      = slices.Clone(ssrf.IPv4DeniedPrefixes)
	reservedIPv6      = slices.Clone(ssrf.IPv6DeniedPrefixes)
	ipv6GlobalUnicast = ssrf.IPv6GlobalUnicast
	// IPv6 prefixes whose addresses carry an IPv4 address that a gateway
	// on the path may connect to.
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215, local-use NAT64
	sixToFour      = netip.MustParsePrefix("2002::/16")      // RFC 3056
)

// BlockedReason reports why the dial guard refuses addr, or "" if it allows
// it: the class of a loopback, private, link-local, unspecified, multicast
// or shared address, and "reserved" for every other special-purpose range
// of the IANA IPv4 and IPv6 registries (fec0::/10, 100::/64, Teredo
// 2001::/32, 198.18.0.0/15, the documentation ranges, …) and for IPv6
// outside global unicast (2000::/3). IPv4-mapped IPv6 addresses are judged
// as the IPv4 address they carry, and so are NAT64 (64:ff9b::/96,
// 64:ff9b:1::/48) and 6to4 (2002::/16) addresses, which a gateway turns
// into a connection to that IPv4 address: 64:ff9b::7f00:1 is refused as
// "loopback", 2002:808:808:: (8.8.8.8) is allowed.
func BlockedReason(addr netip.Addr) string {
	reason, _ := judge(addr)
	return reason
}

// judge returns why addr is refused, and the embedded IPv4 address that
// was judged when that is why. A NAT64 or 6to4 address is judged only by
// the IPv4 address it carries (the registries list their prefixes as
// special-purpose, but a gateway connects to the embedded address, which
// may be a partner's).
func judge(addr netip.Addr) (reason string, embedded netip.Addr) {
	a := addr.Unmap()
	if reason := addressClass(a); reason != "" {
		return reason, netip.Addr{}
	}
	if carried := embeddedIPv4(a); carried != nil {
		for _, v4 := range carried {
			if reason := addressClass(v4); reason != "" {
				return reason, v4
			}
			if reserved(v4) {
				return "reserved", v4
			}
		}
		return "", netip.Addr{}
	}
	if reserved(a) {
		return "reserved", netip.Addr{}
	}
	return "", netip.Addr{}
}

// reserved reports whether a is in a special-purpose range other than the
// named classes of addressClass.
func reserved(a netip.Addr) bool {
	if a.Is4() {
		return containsAddr(reservedIPv4, a)
	}
	return !ipv6GlobalUnicast.Contains(a) || containsAddr(reservedIPv6, a)
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addressClass returns the named class of a refused address, or "".
func addressClass(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsLoopback():
		return "loopback"
	case a.IsUnspecified(), thisNetwork.Contains(a):
		return "unspecified"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case sharedAddressSpace.Contains(a):
		return "shared"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 addresses a NAT64 or 6to4 address may
// carry. In the local-use NAT64 prefix the operator picks the prefix
// length, so two readings are returned: the last 32 bits (a /96 prefix,
// the usual deployment) and bits 48-63 and 72-87 (the prefix itself as a
// /48, RFC 6052 §2.2). An address is refused when either reading is, which
// errs on the side of safety: behind a NAT64 that uses the whole /48, the
// guard refuses every address (the /96 reading of its zero suffix is
// 0.0.0.0).
func embeddedIPv4(a netip.Addr) []netip.Addr {
	if !a.Is6() {
		return nil
	}
	b := a.As16()
	last32 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case nat64WellKnown.Contains(a):
		return []netip.Addr{last32}
	case nat64Local.Contains(a):
		return []netip.Addr{last32, netip.AddrFrom4([4]byte{b[6], b[7], b[9], b[10]})}
	case sixToFour.Contains(a):
		return []netip.Addr{netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})}
	}
	return nil
}

// errGuardedTransportHasProxy is the dial guard's answer once the Proxy
// field of the transport it guards has been set: the guard would judge the
// proxy's address, and the proxy would connect to any partner address.
var errGuardedTransportHasProxy = classify.Permanent(errors.New("httpclient: dial guard refuses to dial: " +
	"the guarded transport's Proxy was set after NewTransport, and a proxy would reach addresses the guard refuses"))

// dialGuard is the dial guard of one transport (see
// Config.BlockPrivateAddresses).
type dialGuard struct {
	// transport is the guarded transport, whose Proxy must stay nil.
	transport *http.Transport
	// exempt lists addresses let through (Config.AllowedAddresses).
	exempt []netip.AddrPort
}

// dialContext wraps dial so it refuses to dial at all once the guarded
// transport has a Proxy.
func (g *dialGuard) dialContext(dial func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if g.transport.Proxy != nil {
			return nil, errGuardedTransportHasProxy
		}
		return dial(ctx, network, address)
	}
}

// control is a net.Dialer.Control function: it runs after DNS resolution
// with the concrete address about to be dialled.
func (g *dialGuard) control(network, address string, _ syscall.RawConn) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return classify.Permanent(fmt.Errorf("httpclient: dial guard cannot parse %q: %w", address, err))
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return classify.Permanent(fmt.Errorf("httpclient: dial guard cannot parse %q: %w", address, err))
	}
	if len(g.exempt) > 0 {
		if ap, err := netip.ParseAddrPort(net.JoinHostPort(addr.Unmap().String(), port)); err == nil && slices.Contains(g.exempt, ap) {
			return nil
		}
	}
	if reason, embedded := judge(addr); reason != "" {
		return classify.Permanent(&BlockedAddressError{Addr: addr.Unmap(), Reason: reason, Embedded: embedded})
	}
	return nil
}
