package dnstest_test

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// Behaviours of the fake upstream.
const (
	answer   = "answer"   // A records (40 of them, too many for UDP)
	nxdomain = "nxdomain" // NXDOMAIN, as the incident's resolvers said
	servfail = "servfail"
	silent   = "silent" // no answer: the resolver times out
)

// upstream is a DNS server on loopback, UDP and TCP on one port, whose
// behaviour the test switches, counting the queries it gets.
type upstream struct {
	Addr string

	mu      sync.Mutex
	mode    string
	records map[string][]netip.Addr // name (FQDN) -> its A records
	queries map[string]int          // "name type proto" -> count
}

func startUpstream(t *testing.T, records map[string][]netip.Addr) *upstream {
	t.Helper()
	u := &upstream{mode: answer, records: records, queries: map[string]int{}}
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 { // UDP and TCP on the same port
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		_ = pc.Close()
	}
	require.NoError(t, err)
	u.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: u}
	tcp := &dns.Server{Listener: ln, Handler: u}
	var started sync.WaitGroup
	started.Add(2)
	udp.NotifyStartedFunc = started.Done
	tcp.NotifyStartedFunc = started.Done
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	started.Wait()
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return u
}

// Set switches what the server answers from now on.
func (u *upstream) Set(mode string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.mode = mode
}

// Queries returns how many queries for name of type qtype ("A", "AAAA")
// came over proto ("udp", "tcp").
func (u *upstream) Queries(name, qtype, proto string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.queries[dns.Fqdn(name)+" "+qtype+" "+proto]
}

func (u *upstream) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		return
	}
	q := r.Question[0]
	proto := w.LocalAddr().Network()
	u.mu.Lock()
	u.queries[strings.ToLower(q.Name)+" "+dns.TypeToString[q.Qtype]+" "+proto]++
	mode := u.mode
	addrs := u.records[strings.ToLower(q.Name)]
	u.mu.Unlock()

	m := new(dns.Msg)
	switch mode {
	case silent:
		return
	case nxdomain:
		m.SetRcode(r, dns.RcodeNameError)
	case servfail:
		m.SetRcode(r, dns.RcodeServerFailure)
	default:
		if addrs == nil {
			m.SetRcode(r, dns.RcodeNameError)
			break
		}
		m.SetReply(r)
		if q.Qtype == dns.TypeA {
			for _, a := range addrs {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1},
					A:   a.AsSlice(),
				})
			}
		}
		if proto == "udp" {
			m.Truncate(dns.MinMsgSize) // 512 bytes: 40 A records do not fit
		}
	}
	_ = w.WriteMsg(m)
}

// loopbacks returns n addresses 127.0.0.1, 127.0.0.2, ...: only the first
// has the partner listening; the dialer moves past the refusals of the
// others.
func loopbacks(n int) []netip.Addr {
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
	}
	return addrs
}

// waitUntil sleeps until t.
func waitUntil(t time.Time) { time.Sleep(time.Until(t)) }
