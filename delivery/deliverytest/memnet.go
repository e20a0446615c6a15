package deliverytest

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
)

// memHost is the host name of an in-memory partner's URL. The .test
// top-level domain is reserved, so it can never reach a real host.
const memHost = "partner.test"

// memListener is a net.Listener whose connections are in-process pipes
// (net.Pipe): blocking on them is blocking on channels, which a
// testing/synctest bubble understands.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next dialled connection.
func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; dials fail from then on.
func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the partner's in-memory address.
func (l *memListener) Addr() net.Addr { return memAddr{} }

// dial connects a new pipe to the listener.
func (l *memListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "memory", Addr: memAddr{}, Err: ctx.Err()}
	}
	client.Close()
	server.Close()
	// Like a closed port: the connection is refused.
	return nil, &net.OpError{Op: "dial", Net: "memory", Addr: memAddr{}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return memHost }
