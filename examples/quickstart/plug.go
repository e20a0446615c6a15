package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// plug is the network path to a partner: a TCP port on loopback that
// forwards every connection to the partner. Pulling it closes the port and
// every connection through it, so new connections are refused by the
// operating system, as when a partner's server is down; putting it back
// listens on the same port again.
type plug struct {
	addr string
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newPlug listens on a free loopback port and forwards to dial.
func newPlug(dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*plug, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &plug{addr: ln.Addr().String(), dial: dial, conns: make(map[net.Conn]struct{})}
	p.serve(ln)
	return p, nil
}

// URL is the partner's base URL through the plug.
func (p *plug) URL() string { return "http://" + p.addr }

func (p *plug) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.forward(c) })
		}
	})
}

// forward copies between c and a new connection to the partner until
// either side closes.
func (p *plug) forward(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	up, err := p.dial(ctx, "tcp", p.addr)
	cancel()
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	var wg sync.WaitGroup
	copyClose := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	wg.Go(func() { copyClose(up, c) })
	wg.Go(func() { copyClose(c, up) })
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track records a forwarded pair so that pull can cut it; it closes both
// and returns false if the plug was pulled meanwhile.
func (p *plug) track(c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		c.Close()
		up.Close()
		return false
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	return true
}

// pull closes the port and cuts every connection through it.
func (p *plug) pull() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
}

// restore listens on the port again. Another program could have taken the
// port meanwhile (unlikely on loopback within seconds): it retries for a
// second, then gives up with an error.
func (p *plug) restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	var err error
	for range 20 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("webhooks: listen on %s again: %w", p.addr, err)
}

// close pulls the plug for good and waits for its goroutines.
func (p *plug) close() {
	p.pull()
	p.wg.Wait()
}
