package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
	"github.com/outbound-go/outbound/delivery/storetest"
)

// TestTwoHandlesRespectLeases opens the file twice (two *sql.DB, as two
// processes would) and checks that a lease taken through one is respected
// by the other until it expires.
func TestTwoHandlesRespectLeases(t *testing.T) {
	ctx := context.Background()
	clock := &storetest.Clock{}
	path := filepath.Join(t.TempDir(), "outbox.db")
	a, b := open(t, path, clock.Now), open(t, path, clock.Now)

	_, err := a.Enqueue(ctx, delivery.Message{ID: "r1", Payload: []byte("x")})
	require.NoError(t, err)
	got, err := a.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, got, 1)

	other, err := b.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, other, "B sees A's lease")

	clock.Advance(59 * time.Second)
	other, err = b.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, other, "A's lease has not expired yet")

	clock.Advance(time.Second)
	other, err = b.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, other, 1, "A's lease expired: B takes the record over")
	assert.Equal(t, "r1", other[0].ID)

	ok := delivery.Attempt{Class: classify.ClassOK, Status: 200}
	require.ErrorIs(t, a.Complete(ctx, got[0].Lease(), ok, false), delivery.ErrLeaseLost, "A's stale lease is fenced")
	require.NoError(t, b.Complete(ctx, other[0].Lease(), ok, false))
	r, err := a.Get(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateDelivered, r.State)
}

// TestTwoHandlesShareMaxInFlight checks that a destination's MaxInFlight
// set through one handle bounds the leases taken through both.
func TestTwoHandlesShareMaxInFlight(t *testing.T) {
	ctx := context.Background()
	clock := &storetest.Clock{}
	path := filepath.Join(t.TempDir(), "outbox.db")
	a, b := open(t, path, clock.Now), open(t, path, clock.Now)
	require.NoError(t, a.SetDestinationLimits(ctx, "ats", delivery.DestinationLimits{MaxInFlight: 2}))
	for i := range 5 {
		_, err := a.Enqueue(ctx, delivery.Message{ID: fmt.Sprint("r", i), Destination: "ats", Payload: []byte("x")})
		require.NoError(t, err)
	}
	first, err := a.Claim(ctx, 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, first, 1)
	second, err := b.Claim(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Len(t, second, 1, "B gets only what A's lease leaves of the limit")
}

// TestTwoHandlesClaimConcurrently drains records through two handles from
// several goroutines each, so writes contend for the file lock, and checks
// that every record is handed out exactly once. The handles wait up to a
// minute for the lock: under -race on a loaded machine one handle's
// goroutines can keep it for longer than the default 5s.
func TestTwoHandlesClaimConcurrently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	openPatient := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, sqlite.Config{Path: path, BusyTimeout: time.Minute})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	}
	a, b := openPatient(), openPatient()
	const n = 200
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		msgs[i] = delivery.Message{ID: fmt.Sprintf("r%03d", i), Key: fmt.Sprint("k", i%7), Payload: []byte("x")}
	}
	_, err := a.Enqueue(ctx, msgs...)
	require.NoError(t, err)

	var (
		mu   sync.Mutex
		seen = make(map[string]int)
		wg   sync.WaitGroup
	)
	for _, s := range []delivery.Store{a, b, a, b} {
		wg.Go(func() {
			for idle := 0; idle < 50; {
				recs, err := s.Claim(ctx, 5, time.Minute)
				if !assert.NoError(t, err) {
					return
				}
				if len(recs) == 0 {
					idle++
					time.Sleep(time.Millisecond) // another worker holds the heads of the keys
					continue
				}
				idle = 0
				for _, r := range recs {
					mu.Lock()
					seen[r.ID]++
					mu.Unlock()
					assert.NoError(t, s.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK}, false))
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n, "every record delivered")
	for id, c := range seen {
		assert.Equal(t, 1, c, "record %s claimed once", id)
	}
}

// TestReadsTakeNoWriteLock holds the file's write lock through another
// connection and checks that the reads still answer (WAL lets them run
// beside a writer), while a write waits for the busy timeout and fails
// with a clear error instead of hanging.
func TestReadsTakeNoWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, BusyTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Enqueue(ctx, delivery.Message{ID: "r1", Payload: []byte("x")})
	require.NoError(t, err)

	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.NoError(t, err)
	defer conn.ExecContext(ctx, `ROLLBACK`) //nolint:errcheck // the lock ends with the connection anyway

	_, err = s.Get(ctx, "r1")
	assert.NoError(t, err, "Get")
	_, err = s.List(ctx, delivery.ListOptions{})
	assert.NoError(t, err, "List")
	st, err := s.Stats(ctx)
	assert.NoError(t, err, "Stats")
	assert.EqualValues(t, 1, st.Count(delivery.StatePending))
	_, err = s.Destinations(ctx)
	assert.NoError(t, err, "Destinations")
	_, _, err = s.NextDue(ctx)
	assert.NoError(t, err, "NextDue")

	_, err = s.Claim(ctx, 1, time.Minute)
	require.Error(t, err, "a write waits for the lock no longer than the busy timeout")
	assert.Contains(t, err.Error(), "sqlite: ")
}
