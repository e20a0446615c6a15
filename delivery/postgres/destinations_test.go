package postgres_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/retry"
)

// A pause, a disable and a limit live in the database: after every
// process stopped (store closed, pool closed) a new one on the same schema
// sees them and claims accordingly.
func TestPauseSurvivesARestartOfEveryProcess(t *testing.T) {
	ctx := context.Background()
	admin := newPool(t)
	schema := newSchema(t, admin)
	open := func() (*postgres.Store, func()) {
		pool := newPool(t)
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
		require.NoError(t, err)
		require.NoError(t, s.Migrate(ctx))
		return s, func() { _ = s.Close(); pool.Close() }
	}

	s, stop := open()
	for i := range 3 {
		for _, d := range []string{"ats", "crm", "gone"} {
			_, err := s.Enqueue(ctx, delivery.Message{ID: fmt.Sprintf("%s-%d", d, i), Destination: d, Payload: []byte("x")})
			require.NoError(t, err)
		}
	}
	_, err := s.PauseDestination(ctx, "ats", delivery.Pause{Until: time.Now().Add(time.Hour), Cause: "http_429", Reason: "429 Retry-After: 3600"})
	require.NoError(t, err)
	require.NoError(t, s.DisableDestination(ctx, "gone", "gone", "410 Gone"))
	require.NoError(t, s.SetDestinationLimits(ctx, "crm", delivery.DestinationLimits{MaxInFlight: 2}))
	stop()

	s, stop = open()
	defer stop()
	ds, err := s.Destinations(ctx)
	require.NoError(t, err)
	byName := map[string]delivery.Destination{}
	for _, d := range ds {
		byName[d.Name] = d
	}
	assert.Equal(t, delivery.DestinationPaused, byName["ats"].Status, "still paused")
	assert.Equal(t, "http_429", byName["ats"].Cause)
	assert.Equal(t, delivery.DestinationDisabled, byName["gone"].Status, "still disabled")
	assert.Equal(t, 2, byName["crm"].MaxInFlight, "limit kept")
	recs, err := s.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	got := map[string]int{}
	for _, r := range recs {
		got[r.Destination]++
	}
	assert.Equal(t, map[string]int{"crm": 2}, got, "only crm, within its limit")
}

// One Key, three destinations, one of them paused: the other two are
// claimable, in Key order at each destination.
func TestFanOutUnderOneKeyWithOneDestinationPaused(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, nil)
	for i := range 3 {
		for _, d := range []string{"a", "b", "c"} {
			_, err := s.Enqueue(ctx, delivery.Message{ID: fmt.Sprintf("%s-%d", d, i), Destination: d, Key: "event-1", Payload: []byte("x")})
			require.NoError(t, err)
		}
	}
	_, err := s.PauseDestination(ctx, "c", delivery.Pause{Until: time.Now().Add(time.Hour), Cause: "conn_refused"})
	require.NoError(t, err)
	for i := range 3 {
		recs, err := s.Claim(ctx, 10, time.Minute)
		require.NoError(t, err)
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.ID)
			require.NoError(t, s.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false))
		}
		assert.ElementsMatch(t, []string{fmt.Sprintf("a-%d", i), fmt.Sprintf("b-%d", i)}, ids, "round %d: the heads of a and b, not c's", i)
	}
	recs, err := s.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, recs, "c waits for its pause")
	require.NoError(t, s.ResumeDestination(ctx, "c"))
	recs, err = s.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "c-0", recs[0].ID, "c's first record of the key once resumed")
}

// Three dispatchers, each with its own pool, on one schema, real time: a
// partner answers the first request for x with 429 Retry-After: 2s. No
// request reaches x for 2s after that answer, except records claimed
// before it (at most the dispatchers' Concurrency); y is served
// throughout; every record is delivered and the 429 spends no attempt.
func TestRetryAfterPausesTheFleetOnPostgres(t *testing.T) {
	first, _ := newStore(t, nil)
	schema := schemaOf(t, first)
	ctx := context.Background()
	var msgs []delivery.Message
	for i := range 20 {
		msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("x-%02d", i), Destination: "x", Payload: []byte("x")},
			delivery.Message{ID: fmt.Sprintf("y-%02d", i), Destination: "y", Payload: []byte("y")})
	}
	_, err := first.Enqueue(ctx, msgs...)
	require.NoError(t, err)

	var (
		mu          sync.Mutex
		throttledAt time.Time
		afterX      []time.Duration // requests to x after the 429, since it
		delivered   = map[string]bool{}
	)
	send := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if m.Destination == "x" {
			if throttledAt.IsZero() {
				throttledAt = now
				return &classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: 2 * time.Second}
			}
			afterX = append(afterX, now.Sub(throttledAt))
		}
		delivered[m.ID] = true
		return nil
	})
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	const concurrency = 2
	for range 3 {
		pool := newPool(t)
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: s, Deliverer: send, Concurrency: concurrency})
		require.NoError(t, err)
		wg.Go(func() { _ = d.Run(runCtx) })
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		if n == len(msgs) {
			break
		}
		time.Sleep(20 * time.Millisecond) // waiting for the drain, not timing it
	}
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, delivered, len(msgs), "every record delivered")
	early := 0
	for _, at := range afterX {
		if at < 2*time.Second {
			early++
		}
	}
	assert.LessOrEqual(t, early, 3*concurrency, "within the pause only records already claimed reach x: %v", afterX)
	r, err := first.Get(ctx, "x-00")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDelivered, r.State)
	assert.LessOrEqual(t, r.Attempts, 1, "a 429 spends no attempt of the record")
}

// A partner refusing connections for a second under fan-out (one Key per
// event, three destinations): a and b drain, c is paused, not failed, and
// each destination receives each key's records in enqueue order.
func TestFanOutDrainsWhileOneDestinationIsDown(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, nil)
	var msgs []delivery.Message
	for i := range 50 {
		for part := range 2 {
			for _, d := range []string{"a", "b", "c"} {
				msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("%s-%03d-%d", d, i, part), Destination: d,
					Key: fmt.Sprintf("event-%03d", i), Payload: []byte("x")})
			}
		}
	}
	_, err := s.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	start := time.Now()
	var mu sync.Mutex
	got := map[string][]string{}
	send := delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
		if m.Destination == "c" && time.Since(start) < time.Second {
			return refused
		}
		mu.Lock()
		got[m.Destination] = append(got[m.Destination], m.ID)
		mu.Unlock()
		return nil
	})
	// Short pauses: each failure of a record already in hand counts a pause,
	// so the default backoff (5s, 15s, 45s...) would outlast the test.
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: s, Deliverer: send, Concurrency: 8,
		PauseBackoff: retry.Exponential{Initial: 200 * time.Millisecond, Factor: 2, Max: time.Second}})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = d.Run(runCtx) })
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(got["a"]) + len(got["b"]) + len(got["c"])
		mu.Unlock()
		if n == len(msgs) {
			break
		}
		time.Sleep(20 * time.Millisecond) // waiting for the drain, not timing it
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, dest := range []string{"a", "b", "c"} {
		require.Len(t, got[dest], 100, dest)
		seen := map[string]bool{}
		for _, id := range got[dest] {
			key, part := id[2:5], id[6:]
			if part == "1" {
				assert.True(t, seen[key], "%s: %s before its key's first record", dest, id)
			}
			seen[key] = true
		}
	}
	st, err := s.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Count(delivery.StateDead), "c's records were paused, not dead-lettered")
}

// MaxInFlight holds when claimers in several processes race: three
// stores, each with its own pool, and eight goroutines each, claim in a
// loop; the leases granted never exceed the bound, and once they are
// settled the next race grants the bound again.
func TestMaxInFlightHoldsAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	first, _ := newStore(t, nil)
	schema := schemaOf(t, first)
	require.NoError(t, first.SetDestinationLimits(ctx, "ats", delivery.DestinationLimits{MaxInFlight: 3}))
	var msgs []delivery.Message
	for i := range 60 {
		msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("ats-%02d", i), Destination: "ats", Payload: []byte("x")})
	}
	_, err := first.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	stores := make([]*postgres.Store, 3)
	for i := range stores {
		s, err := postgres.New(postgres.Config{Pool: newPool(t), Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		stores[i] = s
	}
	for round := range 5 {
		var mu sync.Mutex
		var got []delivery.Record
		var wg sync.WaitGroup
		for _, s := range stores {
			for range 8 {
				wg.Go(func() {
					for range 3 {
						recs, err := s.Claim(ctx, 4, time.Minute)
						assert.NoError(t, err)
						mu.Lock()
						got = append(got, recs...)
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		require.Len(t, got, 3, "round %d: 72 racing claims in three processes lease MaxInFlight", round)
		for _, r := range got {
			require.NoError(t, first.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false))
		}
	}
}

// A destination first seen in a caller's transaction that rolls back is
// not taken as stored: the next enqueue for it creates its row, and its
// records are claimed (a record whose destination has no row would never
// be).
func TestDestinationFirstSeenInARolledBackTransaction(t *testing.T) {
	ctx := context.Background()
	s, pool := newStore(t, nil)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = s.EnqueueTx(ctx, tx, delivery.Message{ID: "fresh-0", Destination: "fresh", Payload: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))

	_, err = s.Enqueue(ctx, delivery.Message{ID: "fresh-1", Destination: "fresh", Payload: []byte("x")})
	require.NoError(t, err)
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	_, err = s.EnqueueTx(ctx, tx, delivery.Message{ID: "fresh-2", Destination: "fresh", Payload: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	recs, err := s.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	assert.ElementsMatch(t, []string{"fresh-1", "fresh-2"}, ids)
}
