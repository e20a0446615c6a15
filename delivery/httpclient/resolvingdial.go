package httpclient

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// DefaultFallbackDelay is how long a dial through a CachingResolver waits
// for the first address family before it also tries the other (RFC 8305
// Happy Eyeballs), as net.Dialer does.
const DefaultFallbackDelay = 300 * time.Millisecond

// resolvingDialer dials host names through a CachingResolver. It dials
// the resolved IP addresses with the underlying net.Dialer, so its
// Control function (the dial guard) judges every address actually
// dialled. The TLS layer above is unaffected: http.Transport takes the
// TLS server name from the request's host, not from the dialled address.
type resolvingDialer struct {
	dialer   *net.Dialer
	resolver *CachingResolver
}

// DialContext resolves address's host and dials its addresses: those of
// the first address's family one after another, and, if that has not
// succeeded within the fallback delay, those of the other family in
// parallel; the first connection wins. A resolution failure is returned
// as a *net.OpError around the *net.DNSError.
func (d *resolvingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return d.dialer.DialContext(ctx, network, address)
	}
	addrs, err := d.resolver.LookupNetIP(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	primary, fallback := splitFamilies(network, addrs)
	if len(primary) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no suitable address", Name: host}}
	}
	if len(fallback) == 0 {
		return d.dialSerial(ctx, network, primary, port)
	}
	return d.race(ctx, network, primary, fallback, port)
}

// splitFamilies keeps the addresses network allows and splits them by
// family, the first address's family first.
func splitFamilies(network string, addrs []netip.Addr) (primary, fallback []netip.Addr) {
	var first bool
	for _, a := range addrs {
		a = a.Unmap()
		if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
			continue
		}
		if len(primary) == 0 && len(fallback) == 0 {
			first = a.Is4()
		}
		if a.Is4() == first {
			primary = append(primary, a)
		} else {
			fallback = append(fallback, a)
		}
	}
	return primary, fallback
}

// race dials primary at once and fallback after the fallback delay; the
// first connection wins and the other attempt is cancelled.
func (d *resolvingDialer) race(ctx context.Context, network string, primary, fallback []netip.Addr, port string) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan dialResult, 2)
	start := func(addrs []netip.Addr, isPrimary bool) {
		conn, err := d.dialSerial(ctx, network, addrs, port)
		results <- dialResult{conn, err, isPrimary}
	}
	go start(primary, true)
	delay := d.dialer.FallbackDelay
	if delay <= 0 {
		delay = DefaultFallbackDelay
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var firstErr error
	pending, fallbackStarted := 1, false
	for pending > 0 || !fallbackStarted {
		select {
		case <-timer.C:
			if !fallbackStarted {
				fallbackStarted = true
				pending++
				go start(fallback, false)
			}
		case res := <-results:
			pending--
			if res.err == nil {
				cancel()
				go drain(results, pending)
				return res.conn, nil
			}
			if res.primary {
				firstErr = res.err
			} else if firstErr == nil {
				firstErr = res.err
			}
			if !fallbackStarted { // the primary family failed: no need to wait
				timer.Stop()
				fallbackStarted = true
				pending++
				go start(fallback, false)
			}
		}
	}
	return nil, firstErr
}

// dialResult is the outcome of one family's attempts.
type dialResult struct {
	conn    net.Conn
	err     error
	primary bool
}

// drain closes the connections of the n attempts still running after
// another won.
func drain(results <-chan dialResult, n int) {
	for range n {
		if res := <-results; res.conn != nil {
			_ = res.conn.Close()
		}
	}
}

// dialSerial dials addrs in order until one connects, giving each a fair
// share of the time left, and returns the first error if none does.
func (d *resolvingDialer) dialSerial(ctx context.Context, network string, addrs []netip.Addr, port string) (net.Conn, error) {
	var firstErr error
	for i, a := range addrs {
		if err := ctx.Err(); err != nil {
			if firstErr == nil {
				firstErr = &net.OpError{Op: "dial", Net: network, Err: err}
			}
			break
		}
		conn, err := d.dialShare(ctx, network, a, port, len(addrs)-i)
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: errors.New("no addresses")}
	}
	return nil, firstErr
}

// dialShare dials one address, with 1/left of the time ctx has left (at
// least 2s, as net.Dialer does) when ctx has a deadline.
func (d *resolvingDialer) dialShare(ctx context.Context, network string, a netip.Addr, port string, left int) (net.Conn, error) {
	if deadline, ok := ctx.Deadline(); ok {
		share := max(time.Until(deadline)/time.Duration(left), 2*time.Second)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, share)
		defer cancel()
	}
	return d.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
}
