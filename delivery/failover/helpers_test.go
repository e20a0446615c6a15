package failover_test

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failover"
)

// fakeChannel is a Deliverer whose outcome the test sets, counting what
// it is sent.
type fakeChannel struct {
	mu      sync.Mutex
	outcome func() error
	sent    []string
}

func (c *fakeChannel) Deliver(_ context.Context, m *delivery.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m.ID)
	if c.outcome == nil {
		return nil
	}
	return c.outcome()
}

func (c *fakeChannel) set(outcome func() error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcome = outcome
}

func (c *fakeChannel) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// refused is the error a dial to a closed port returns.
func refused() error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// switchLog collects OnSwitch events.
type switchLog struct {
	mu     sync.Mutex
	events []failover.Switch
}

func (l *switchLog) add(s failover.Switch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, s)
}

func (l *switchLog) all() []failover.Switch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]failover.Switch(nil), l.events...)
}

func newSet(t *testing.T, cfg failover.Config) *failover.Failover {
	t.Helper()
	f, err := failover.New(cfg)
	require.NoError(t, err)
	return f
}

func msg(id string) *delivery.Message { return &delivery.Message{ID: id, Payload: []byte(id)} }
