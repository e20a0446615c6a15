package scenario_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// Seed 000 §1, socket exhaustion: "the Lambda function would fire a request
// for each record that we hadn't marked as processed ... the first few would
// succeed but quickly we'd get ETIMEDOUT". The lesson: a backlog must never
// become one socket per record. Here 5,000 pending records are drained by 32
// workers through one shared client bounded to 8 connections per host, over
// real loopback TCP: the client never holds a ninth socket, the partner
// never has more than 8 requests in flight, keep-alive serves the backlog
// over a handful of connections, and nothing fails.
func TestBacklogFanOutBoundsSockets(t *testing.T) {
	const records, workers, maxConns = 5000, 32, 8
	partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
		Latency: time.Millisecond, // a partner that takes a moment, so workers pile up
	})
	client := partnerClient(t, partner, maxConns)
	sockets := countSockets(client)
	store := memstore.New(memstore.Config{})
	enqueue(t, store, backlog("cand", records, nil)...)
	var obs deliverytest.Observer
	d := newDispatcher(t, delivery.DispatcherConfig{
		Store:       store,
		Deliverer:   sender(t, partner, client),
		Concurrency: workers,
		MaxPerRun:   1000,
		Observer:    &obs,
	})

	drain(t, d)

	st := stats(t, store)
	assert.EqualValues(t, records, st.Count(delivery.StateDelivered), "every record delivered")
	assert.Equal(t, records, obs.Classes()[classify.ClassOK], "every attempt succeeded: no timeouts, no resets")
	ps := partner.Stats()
	assert.Equal(t, records, ps.Requests, "one request per record, no retries")
	assert.Equal(t, records, partner.Delivered())
	assert.LessOrEqual(t, sockets.peak(), maxConns, "the client never holds more than MaxConnsPerHost sockets")
	assert.LessOrEqual(t, ps.PeakInFlight, maxConns, "nor the partner more requests in flight")
	require.Greater(t, ps.PeakInFlight, 1, "the workers did send in parallel")
	// When the transport gives up on reusing a connection (it waits at most
	// 50ms for the previous write to be confirmed, which a starved CPU can
	// miss) it closes it and dials another; the partner notices the close a
	// moment later, so only a replacement can push its count past the bound.
	replacements := max(ps.Connections-maxConns, 0)
	assert.LessOrEqual(t, ps.PeakConnections, maxConns+replacements, "the partner never sees more, apart from replacements")
	assert.Less(t, ps.Connections, records/100, "keep-alive: at least a hundred records per socket, not one socket per record")
	t.Logf("%d records from %d workers over %d sockets (at most %d at once at the client, %d seen at once by the partner, %d requests in flight)",
		records, workers, ps.Connections, sockets.peak(), ps.PeakConnections, ps.PeakInFlight)
}

// socketCount counts the sockets a client's transport holds open.
type socketCount struct {
	open, max atomic.Int32
}

func (s *socketCount) peak() int { return int(s.max.Load()) }

// countSockets wraps the dialer of client's transport to count its open
// sockets.
func countSockets(client *http.Client) *socketCount {
	s := &socketCount{}
	tr := client.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n := s.open.Add(1)
		for m := s.max.Load(); n > m && !s.max.CompareAndSwap(m, n); m = s.max.Load() {
		}
		return &countedConn{Conn: c, s: s}, nil
	}
	return s
}

type countedConn struct {
	net.Conn
	s    *socketCount
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.s.open.Add(-1) })
	return c.Conn.Close()
}
