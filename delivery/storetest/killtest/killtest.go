package killtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// Config configures the parent side of the kill test.
type Config struct {
	// Store is the parent's own Store on the outbox the children drain:
	// Run enqueues the records through it and reads their states.
	// Required; it must be empty.
	Store delivery.Store
	// Records is how many records are enqueued before the first child
	// starts. Zero means 2,000.
	Records int
	// Kills is how many children are killed with SIGKILL before the last
	// one drains the outbox. Zero means 5.
	Kills int
	// ChildEnv is added to each child's environment: what its OpenFunc
	// needs to open the same outbox (a file, a schema).
	ChildEnv []string
	// AfterKill, if set, runs after each killed child has exited and
	// before the records in flight are counted, until none of the child's
	// writes can still commit (PostgreSQL: until the server has ended its
	// sessions). A store in a file needs none: the process is gone.
	AfterKill func(t *testing.T)
}

// Result is what a kill test measured.
type Result struct {
	Records, Kills int
	// Duplicates is how many deliveries repeated an earlier one.
	Duplicates int
	// Bound is how many records were in flight at the kills, summed over
	// the kills: Duplicates never exceeds it.
	Bound int
}

// DuplicatesPerKill returns Duplicates divided by Kills.
func (r Result) DuplicatesPerKill() float64 {
	if r.Kills == 0 {
		return 0
	}
	return float64(r.Duplicates) / float64(r.Kills)
}

// Run runs the kill test: it enqueues cfg.Records records (every fourth
// with one of 50 ordering keys), starts a child (this test binary,
// re-executed, whose TestMain calls RunChild), waits until it has
// delivered a share of them, kills it with SIGKILL, counts the records
// left in flight, and repeats cfg.Kills times; a last child then drains
// the outbox and is stopped with SIGTERM, which it must survive cleanly.
// It fails t if a record is lost, not marked delivered, or delivered more
// often than the kills that found it in flight explain, and logs the
// figures of each kill. It returns the figures.
func Run(t *testing.T, cfg Config) Result {
	t.Helper()
	require.NotNil(t, cfg.Store, "killtest.Config.Store")
	n, kills := cfg.Records, cfg.Kills
	if n == 0 {
		n = 2000
	}
	if kills == 0 {
		kills = 5
	}
	ctx := context.Background()
	ids := Enqueue(t, cfg.Store, "kill", n)

	count := NewCounter()
	partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(r.Header.Get(httpdelivery.DefaultIdempotencyHeader))
		time.Sleep(time.Millisecond) // a partner that takes a moment, so kills find work in flight
		w.WriteHeader(http.StatusOK)
	}))
	defer partner.Close()

	bound := 0
	inFlightAt := map[string]int{} // record id -> kills that found it in flight
	var outputs []*bytes.Buffer    // each child's unusual outcomes, shown on failure
	defer func() {
		if t.Failed() {
			for i, out := range outputs {
				t.Logf("child %d's unusual outcomes:\n%s", i+1, out)
			}
		}
	}()
	for k := range kills {
		cmd, out := startChild(t, partner.URL, cfg.ChildEnv)
		outputs = append(outputs, out)
		target := min(n, count.Unique()+n/(kills+2))
		deadline := time.Now().Add(2 * time.Minute)
		for count.Unique() < target && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond) // waiting for progress, not timing it
		}
		require.GreaterOrEqual(t, count.Unique(), target, "child %d made no progress; its output:\n%s", k, out)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		if cfg.AfterKill != nil {
			cfg.AfterKill(t)
		}
		inFlight := inFlightIDs(t, cfg.Store)
		for _, id := range inFlight {
			inFlightAt[id]++
		}
		bound += len(inFlight)
		t.Logf("kill %d: %d records delivered so far, %d in flight at the kill", k+1, count.Unique(), len(inFlight))
	}
	require.Positive(t, bound, "the kills must hit work in flight to test anything")

	cmd, out := startChild(t, partner.URL, cfg.ChildEnv)
	outputs = append(outputs, out)
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		st, err := cfg.Store.Stats(ctx)
		require.NoError(t, err)
		if st.Count(delivery.StateDelivered) == int64(n) {
			break
		}
		time.Sleep(20 * time.Millisecond) // waiting for the drain, not timing it
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "a terminated child shuts down cleanly; its output:\n%s", out)

	st, err := cfg.Store.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, n, st.Count(delivery.StateDelivered), "every record is marked delivered")
	dups, missing := count.Duplicates(ids)
	res := Result{Records: n, Kills: kills, Duplicates: dups, Bound: bound}
	t.Logf("%d records, %d kills: %d duplicates (%.2f per kill), bound %d (records in flight at the kills)",
		n, kills, dups, res.DuplicatesPerKill(), bound)
	require.Empty(t, missing, "no record lost")
	assert.LessOrEqual(t, dups, bound, "duplicates come only from records in flight at a kill")
	for id, c := range count.overKills(inFlightAt) {
		t.Errorf("%s delivered %d times but in flight at %d kills", id, c, inFlightAt[id])
	}
	return res
}

// Enqueue stores n records with ids prefix-000000, prefix-000001, ... in
// batches of 500; every fourth has one of 50 ordering keys. It returns
// their ids, and fails tb on an error.
func Enqueue(tb testing.TB, s delivery.Store, prefix string, n int) []string {
	tb.Helper()
	ids := make([]string, 0, n)
	msgs := make([]delivery.Message, 0, 500)
	flush := func() {
		_, err := s.Enqueue(context.Background(), msgs...)
		require.NoError(tb, err)
		msgs = msgs[:0]
	}
	for i := range n {
		id := fmt.Sprintf("%s-%06d", prefix, i)
		key := ""
		if i%4 == 0 {
			key = fmt.Sprintf("key-%d", i%50)
		}
		msgs = append(msgs, delivery.Message{ID: id, Key: key, Payload: []byte(`{"n":` + fmt.Sprint(i) + `}`)})
		ids = append(ids, id)
		if len(msgs) == cap(msgs) {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
	return ids
}

// startChild re-executes the test binary as a dispatcher process.
func startChild(t *testing.T, target string, env []string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"=1", targetEnv+"="+target), env...)
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
