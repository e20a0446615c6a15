package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/outbound-go/outbound/classify"
)

// BlockedAddressError is the cause of a dial refused by the dial guard
// (ClientConfig.BlockPrivateAddresses). It is always wrapped in a Permanent
// classify error: the partner's address will not change by retrying.
type BlockedAddressError struct {
	// Addr is the resolved address that was refused.
	Addr netip.Addr
	// Reason names the address class: "loopback", "private",
	// "link-local", "unspecified", "multicast" or "shared".
	Reason string
}

// Error names the refused address and its class.
func (e *BlockedAddressError) Error() string {
	return fmt.Sprintf("delivery: dial guard refused %s (%s address)", e.Addr, e.Reason)
}

var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")            // RFC 1122 "this network"

// BlockedReason reports why the dial guard refuses addr, or "" if it allows
// it. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func BlockedReason(addr netip.Addr) string {
	a := addr.Unmap()
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

// guardControl is a net.Dialer.Control function: it runs after DNS
// resolution with the concrete address about to be dialled.
func guardControl(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return classify.Permanent(fmt.Errorf("delivery: dial guard cannot parse %q: %w", address, err))
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return classify.Permanent(fmt.Errorf("delivery: dial guard cannot parse %q: %w", address, err))
	}
	if reason := BlockedReason(addr); reason != "" {
		return classify.Permanent(&BlockedAddressError{Addr: addr.Unmap(), Reason: reason})
	}
	return nil
}
