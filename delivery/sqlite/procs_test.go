package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// The parent of TestSeparateProcessesShareOneFile tells a re-executed test
// binary its part through these environment variables; TestMain runs
// runProcChild when procRoleEnv is set.
const (
	procRoleEnv = "OUTBOUND_SQLITE_PROC_ROLE" // procHolder or procWorker
	procPathEnv = "OUTBOUND_SQLITE_PROC_PATH" // the outbox file
	procWantEnv = "OUTBOUND_SQLITE_PROC_WANT" // a worker stops once this many records are delivered
)

// The children's parts.
const (
	procHolder = "holder" // claims the "long" and "short" records and exits without settling them
	procWorker = "worker" // claims and completes until procWantEnv records are delivered
)

// The leases of the test: the holder's long lease outlasts any run of the
// test, its short one expires while the workers run; a worker's lease
// outlasts any settle on a loaded machine, so no record is claimed twice
// for want of a settle in time.
const (
	procLongLease   = time.Hour
	procShortLease  = 3 * time.Second
	procWorkerLease = 10 * time.Minute
	procBusyTimeout = time.Minute // a child waits this long for the write lock: the machine may be loaded
)

// procRecords is how many records the workers share; every fifth has no
// key, the others one of 20 keys (20 records each).
const procRecords = 500

// procKey returns the ordering key of record i of the workers' set.
func procKey(i int) string {
	if i%5 == 0 {
		return ""
	}
	return fmt.Sprint("k", i%20)
}

// Three worker processes (this test binary, re-executed) claim and complete
// 500 records from one file at once, each through its own Store, while a
// fourth process has claimed records of two other destinations and exited
// without settling them: one under a lease of an hour, followed by a
// record of the same key, and one under a lease of three seconds. Each
// worker writes what it claimed, and when the store says it claimed it, to
// its standard output. Every record of the 500 is claimed once and
// completed; a record of a key is claimed only after the record before it
// in its key was completed; the record under the long lease is never
// claimed by another process, nor is the one queued behind it in its key;
// the one under the short lease is taken over only once its lease has
// expired. Nothing is timed: the children get a busy timeout of a minute,
// and the parent waits for them to finish.
func TestSeparateProcessesShareOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	store, err := sqlite.Open(ctx, sqlite.Config{Path: path, BusyTimeout: procBusyTimeout})
	require.NoError(t, err)
	defer store.Close()

	_, err = store.Enqueue(ctx,
		delivery.Message{ID: "long-0", Destination: "long", Key: "held", Payload: []byte("x")},
		delivery.Message{ID: "long-1", Destination: "long", Key: "held", Payload: []byte("x")},
		delivery.Message{ID: "short-0", Destination: "short", Payload: []byte("x")},
	)
	require.NoError(t, err)
	out, stderr, err := runProcs(t, path, procHolder, 1, 0)
	require.NoError(t, err, "holder: %s", stderr[0])
	held := map[string]procLine{}
	for _, l := range parseProcLines(t, out[0]) {
		held[l.id] = l
	}
	require.Contains(t, held, "long-0", "the holder's output:\n%s", out[0])
	require.Contains(t, held, "short-0", "the holder's output:\n%s", out[0])

	msgs := make([]delivery.Message, procRecords)
	for i := range msgs {
		msgs[i] = delivery.Message{ID: fmt.Sprintf("p-%03d", i), Destination: "partner", Key: procKey(i), Payload: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
	}
	_, err = store.Enqueue(ctx, msgs...)
	require.NoError(t, err)

	out, stderr, err = runProcs(t, path, procWorker, 3, procRecords+1) // the 500 and short-0
	require.NoError(t, err, "workers' standard errors: %q", stderr)

	claims := map[string][]procLine{} // record id -> its claims, by any worker
	for w, o := range out {
		lines := parseProcLines(t, o)
		t.Logf("worker %d claimed %d records", w+1, len(lines))
		for _, l := range lines {
			l.proc = w + 1
			claims[l.id] = append(claims[l.id], l)
		}
	}
	for _, m := range msgs {
		assert.Len(t, claims[m.ID], 1, "%s is claimed by exactly one process, once: %v", m.ID, claims[m.ID])
	}

	// The held leases.
	assert.Empty(t, claims["long-0"], "a lease of another process, unexpired, is respected")
	assert.Empty(t, claims["long-1"], "a record behind another process's lease in its key waits")
	r, err := store.Get(ctx, "long-0")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateInFlight, r.State)
	assert.Equal(t, held["long-0"].token, r.LeaseToken, "still under the holder's lease")
	r, err = store.Get(ctx, "long-1")
	require.NoError(t, err)
	assert.Equal(t, delivery.StatePending, r.State)
	if assert.Len(t, claims["short-0"], 1, "an expired lease is taken over, once") {
		took := claims["short-0"][0]
		assert.False(t, took.at.Before(held["short-0"].at),
			"short-0 taken over at %v, before the holder's lease expired at %v", took.at, held["short-0"].at)
	}

	// Every record delivered, and each key in order: a record is claimed
	// no earlier than the completion of the one before it in its key
	// (both times as the store read them, from the host's one clock).
	st, err := store.Stats(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, procRecords+1, st.Count(delivery.StateDelivered))
	last := map[string]delivery.Record{} // key -> its last record so far
	for i, m := range msgs {
		r, err := store.Get(ctx, m.ID)
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, r.State, m.ID)
		key := procKey(i)
		if key == "" || len(claims[m.ID]) == 0 {
			continue
		}
		if prev, ok := last[key]; ok {
			claimed := claims[m.ID][0]
			assert.False(t, claimed.at.Before(prev.UpdatedAt),
				"key %s: %s claimed by worker %d at %v, before %s was completed at %v",
				key, m.ID, claimed.proc, claimed.at, prev.ID, prev.UpdatedAt)
		}
		last[key] = r
	}
}

// procLine is a line of a child's output: a record it claimed, when (the
// store's time of the claim; for the holder, when its lease expires), and
// under which lease token.
type procLine struct {
	id, token string
	at        time.Time
	proc      int
}

// parseProcLines reads a child's output, one "id unix-nanos token" a line.
func parseProcLines(t *testing.T, out []byte) []procLine {
	t.Helper()
	var lines []procLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 3, "a child's output line: %q", sc.Text())
		ns, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		lines = append(lines, procLine{id: f[0], at: time.Unix(0, ns), token: f[2]})
	}
	require.NoError(t, sc.Err())
	return lines
}

// runProcs runs n children in the role on path at once and waits for them
// all (five minutes at most: a deadlock, not slowness), returning each
// one's standard output and standard error and the first error.
func runProcs(t *testing.T, path, role string, n, want int) (stdout, stderr [][]byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmds := make([]*exec.Cmd, n)
	stdout, stderr = make([][]byte, n), make([][]byte, n)
	outs, errs := make([]bytes.Buffer, n), make([]bytes.Buffer, n)
	for i := range cmds {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), procRoleEnv+"="+role, procPathEnv+"="+path, procWantEnv+"="+strconv.Itoa(want))
		cmd.Stdout, cmd.Stderr = &outs[i], &errs[i]
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	var errList []error
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			errList = append(errList, fmt.Errorf("%s %d: %w", role, i+1, err))
		}
		stdout[i], stderr[i] = outs[i].Bytes(), errs[i].Bytes()
	}
	return stdout, stderr, errors.Join(errList...)
}

// runProcChild is a child of TestSeparateProcessesShareOneFile: it runs its
// role and returns the exit code, writing an error to stderr.
func runProcChild() int {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: os.Getenv(procPathEnv), BusyTimeout: procBusyTimeout})
	if err == nil {
		w := bufio.NewWriter(os.Stdout)
		switch role := os.Getenv(procRoleEnv); role {
		case procHolder:
			err = hold(ctx, store, w)
		case procWorker:
			err = work(ctx, store, w)
		default:
			err = fmt.Errorf("unknown role %q", role)
		}
		err = errors.Join(err, w.Flush(), store.Close())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// hold claims the record of destination "long" for procLongLease and the
// one of "short" for procShortLease, writes each with its lease's expiry
// and token, and returns without settling either.
func hold(ctx context.Context, store *sqlite.Store, w *bufio.Writer) error {
	for _, c := range []struct {
		dest  string
		lease time.Duration
	}{{"long", procLongLease}, {"short", procShortLease}} {
		others := slices.DeleteFunc([]string{"long", "short", "partner"}, func(d string) bool { return d == c.dest })
		recs, err := store.Claim(ctx, 1, c.lease, others...)
		if err != nil {
			return err
		}
		if len(recs) != 1 {
			return fmt.Errorf("claimed %d records of %q, want 1", len(recs), c.dest)
		}
		fmt.Fprintln(w, recs[0].ID, recs[0].LeaseExpiresAt.UnixNano(), recs[0].LeaseToken)
	}
	return nil
}

// work claims up to 5 records at a time and completes them, writing each
// with the time of its claim, until procWantEnv records are delivered.
func work(ctx context.Context, store *sqlite.Store, w *bufio.Writer) error {
	want, err := strconv.Atoi(os.Getenv(procWantEnv))
	if err != nil {
		return err
	}
	for {
		recs, err := store.Claim(ctx, 5, procWorkerLease)
		if err != nil {
			return err
		}
		for _, r := range recs {
			// The claim sets UpdatedAt to the store's time of the claim.
			fmt.Fprintln(w, r.ID, r.UpdatedAt.UnixNano(), r.LeaseToken)
		}
		for _, r := range recs {
			time.Sleep(time.Millisecond) // the attempt: other workers claim meanwhile
			if err := store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false); err != nil {
				return err
			}
		}
		if len(recs) > 0 {
			continue
		}
		st, err := store.Stats(ctx)
		if err != nil {
			return err
		}
		if st.Count(delivery.StateDelivered) >= int64(want) {
			return nil
		}
		time.Sleep(10 * time.Millisecond) // the heads of the keys are claimed by others, or short-0's lease runs
	}
}
