package httpclient

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// answer is what one upstream query for one type said.
type answer struct {
	addrs []netip.Addr
	ttl   time.Duration // the smallest TTL among addrs
	rcode dnsmessage.RCode
}

// errTruncated says a UDP answer had the TC bit set.
var errTruncated = errors.New("truncated answer")

// exchange asks server for name's records of type qtype, over UDP and,
// when the answer is truncated, again over TCP. The query carries no EDNS
// option, so the classic 512-byte limit holds over UDP: a longer answer
// (40 A records) comes back truncated and is asked again over TCP, as a
// resolver must (RFC 7766).
func exchange(ctx context.Context, server string, name dnsmessage.Name, qtype dnsmessage.Type) (answer, error) {
	id, query, err := buildQuery(name, qtype)
	if err != nil {
		return answer{}, err
	}
	q := dnsmessage.Question{Name: name, Type: qtype, Class: dnsmessage.ClassINET}
	a, err := exchangeOver(ctx, "udp", server, id, q, query)
	if errors.Is(err, errTruncated) {
		a, err = exchangeOver(ctx, "tcp", server, id, q, query)
	}
	return a, err
}

func buildQuery(name dnsmessage.Name, qtype dnsmessage.Type) (uint16, []byte, error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, nil, err
	}
	id := binary.BigEndian.Uint16(b[:])
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: qtype, Class: dnsmessage.ClassINET}},
	}
	query, err := msg.Pack()
	return id, query, err
}

// exchangeOver sends query over network ("udp" or "tcp") and parses the
// answer with the matching id.
func exchangeOver(ctx context.Context, network, server string, id uint16, q dnsmessage.Question, query []byte) (answer, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, server)
	if err != nil {
		return answer{}, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if network == "tcp" {
		framed := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(query)), uint16(len(query)))
		if _, err := conn.Write(append(framed, query...)); err != nil {
			return answer{}, ctxErr(ctx, err)
		}
		var size [2]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return answer{}, ctxErr(ctx, err)
		}
		buf := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return answer{}, ctxErr(ctx, err)
		}
		return parseAnswer(id, q, buf, false)
	}
	if _, err := conn.Write(query); err != nil {
		return answer{}, ctxErr(ctx, err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return answer{}, ctxErr(ctx, err)
		}
		a, err := parseAnswer(id, q, buf[:n], true)
		if errors.Is(err, errWrongID) {
			continue // a late answer to an earlier query, or spoofing
		}
		return a, err
	}
}

// ctxErr prefers ctx's error when ctx ended, since the deadline set from it
// is what broke the I/O.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// errWrongID marks a datagram that answers another query (a late answer,
// or spoofing): its id or question differs. It is skipped.
var errWrongID = errors.New("answer to another query")

// parseAnswer reads the A and AAAA records of an answer to query id for
// question q.
func parseAnswer(id uint16, q dnsmessage.Question, msg []byte, udp bool) (answer, error) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		return answer{}, fmt.Errorf("malformed answer: %w", err)
	}
	if h.ID != id || !h.Response {
		return answer{}, errWrongID
	}
	if h.Truncated {
		if udp {
			return answer{}, errTruncated
		}
		return answer{}, errors.New("truncated answer over TCP")
	}
	got, err := p.Question()
	if err != nil && !errors.Is(err, dnsmessage.ErrSectionDone) {
		return answer{}, fmt.Errorf("malformed answer: %w", err)
	}
	if err == nil && (got.Type != q.Type || !strings.EqualFold(got.Name.String(), q.Name.String())) {
		return answer{}, errWrongID
	}
	a := answer{rcode: h.RCode}
	if err := p.SkipAllQuestions(); err != nil {
		return answer{}, fmt.Errorf("malformed answer: %w", err)
	}
	for {
		rh, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return answer{}, fmt.Errorf("malformed answer: %w", err)
		}
		var addr netip.Addr
		switch rh.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return answer{}, fmt.Errorf("malformed A record: %w", err)
			}
			addr = netip.AddrFrom4(r.A)
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return answer{}, fmt.Errorf("malformed AAAA record: %w", err)
			}
			addr = netip.AddrFrom16(r.AAAA)
		default: // CNAMEs on the way: the recursive server followed them
			if err := p.SkipAnswer(); err != nil {
				return answer{}, fmt.Errorf("malformed answer: %w", err)
			}
			continue
		}
		ttl := time.Duration(rh.TTL) * time.Second
		if len(a.addrs) == 0 || ttl < a.ttl {
			a.ttl = ttl
		}
		a.addrs = append(a.addrs, addr)
	}
	return a, nil
}
