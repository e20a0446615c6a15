package scenario_test

import (
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
// real loopback TCP: the partner never sees a ninth connection, keep-alive
// means those 8 are never redialled, and nothing fails.
func TestSeed000BacklogFanOut(t *testing.T) {
	const records, workers, maxConns = 5000, 32, 8
	partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
		Latency: time.Millisecond, // a partner that takes a moment, so workers pile up
	})
	store := memstore.New(memstore.Config{})
	enqueue(t, store, backlog("cand", records, nil)...)
	var obs deliverytest.Observer
	d := newDispatcher(t, delivery.DispatcherConfig{
		Store:       store,
		Deliverer:   sender(t, partner, partnerClient(t, partner, maxConns)),
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
	assert.LessOrEqual(t, ps.PeakConnections, maxConns, "never more than MaxConnsPerHost sockets")
	assert.LessOrEqual(t, ps.Connections, maxConns, "keep-alive: the bounded sockets are reused, not redialled")
	assert.LessOrEqual(t, ps.PeakInFlight, maxConns)
	require.Greater(t, ps.PeakInFlight, 1, "the workers did send in parallel")
	t.Logf("partner saw %d connections (peak %d open) and at most %d requests in flight for %d records from %d workers",
		ps.Connections, ps.PeakConnections, ps.PeakInFlight, records, workers)
}
