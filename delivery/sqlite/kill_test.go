package sqlite_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// A dispatcher process on the outbox file is SIGKILLed five times mid-drain
// and restarted. Every record is delivered (the partner, an httptest server
// here, counts deliveries per Idempotency-Key), none is lost, and the
// duplicates never exceed the records that were in flight at the kills:
// those are the only ones whose outcome can have been lost.
func TestKilledDispatcherLosesNothing(t *testing.T) {
	const n, kills = 2000, 5
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	store := open(t, path, nil)
	ids := enqueueMany(t, store, "k", n)

	counter := newDeliveryCounter()
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		counter.add(r.Header.Get(httpdelivery.DefaultIdempotencyHeader))
		time.Sleep(time.Millisecond) // a partner that takes a moment, so kills find work in flight
		w.WriteHeader(http.StatusOK)
	}))
	defer partner.Close()

	bound := 0
	inFlightAt := map[string]int{} // record id -> kills that found it in flight
	var outputs []*bytes.Buffer    // each child's unusual outcomes, shown on failure
	for k := range kills {
		cmd, out := startChild(t, path, partner.URL)
		outputs = append(outputs, out)
		target := min(n, counter.unique()+n/(kills+2))
		deadline := time.Now().Add(2 * time.Minute)
		for counter.unique() < target && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // waiting for progress, not timing it
		}
		require.GreaterOrEqual(t, counter.unique(), target, "child %d made no progress; its output:\n%s", k, out)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait() // the process is gone: none of its writes can commit any more
		inFlight := inFlightIDs(t, store)
		for _, id := range inFlight {
			inFlightAt[id]++
		}
		bound += len(inFlight)
		t.Logf("kill %d: %d records delivered so far, %d in flight at the kill", k+1, counter.unique(), len(inFlight))
	}
	require.Positive(t, bound, "the kills must hit work in flight to test anything")

	// The last instance runs until the outbox is drained, then shuts down.
	cmd, out := startChild(t, path, partner.URL)
	outputs = append(outputs, out)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := store.Stats(ctx)
		require.NoError(t, err)
		if st.Count(delivery.StateDelivered) == n {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "a terminated child shuts down cleanly; its output:\n%s", out)

	st, err := store.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, st.Count(delivery.StateDelivered), "every record is marked delivered")
	dups, missing := counter.duplicates(ids)
	t.Logf("%d records, %d kills: %d duplicates, bound %d (records in flight at the kills)", n, kills, dups, bound)
	require.Empty(t, missing, "no record lost")
	assert.LessOrEqual(t, dups, bound, "duplicates come only from records in flight at a kill")
	counter.mu.Lock()
	defer counter.mu.Unlock()
	for id, c := range counter.counts {
		assert.LessOrEqual(t, c-1, inFlightAt[id], "%s delivered %d times but in flight at %d kills", id, c, inFlightAt[id])
	}
	if t.Failed() {
		for i, out := range outputs {
			t.Logf("child %d's unusual outcomes:\n%s", i+1, out)
		}
	}
}

// startChild re-executes the test binary as a dispatcher process.
func startChild(t *testing.T, path, target string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", childPathEnv+"="+path, childTargetEnv+"="+target)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}

// inFlightIDs lists the ids of the records in flight.
func inFlightIDs(t *testing.T, store delivery.Store) []string {
	t.Helper()
	var ids []string
	opts := delivery.ListOptions{State: delivery.StateInFlight, Limit: delivery.MaxPageSize}
	for {
		page, err := store.List(context.Background(), opts)
		require.NoError(t, err)
		for _, r := range page.Records {
			ids = append(ids, r.ID)
		}
		if page.Next == "" {
			return ids
		}
		opts.After = page.Next
	}
}

// deliveryCounter counts deliveries per idempotency key at the partner.
type deliveryCounter struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newDeliveryCounter() *deliveryCounter { return &deliveryCounter{counts: map[string]int{}} }

func (c *deliveryCounter) add(key string) {
	c.mu.Lock()
	c.counts[key]++
	c.total++
	c.mu.Unlock()
}

// unique returns how many distinct keys were delivered.
func (c *deliveryCounter) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// duplicates returns how many deliveries repeated an earlier one, and
// which keys were missing from want.
func (c *deliveryCounter) duplicates(want []string) (dups int, missing []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range want {
		if c.counts[k] == 0 {
			missing = append(missing, k)
		}
	}
	return c.total - len(c.counts), missing
}
