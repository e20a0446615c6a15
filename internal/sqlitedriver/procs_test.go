package sqlitedriver_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// The parent of TestTwoDriversInTwoProcesses tells a re-executed test
// binary its part through these environment variables; TestMain runs
// runChild when childRoleEnv is set.
const (
	childRoleEnv   = "OUTBOUND_SQLITEDRIVER_ROLE"   // "hold" or "work"
	childDriverEnv = "OUTBOUND_SQLITEDRIVER_DRIVER" // modernc or ncruces
	childPathEnv   = "OUTBOUND_SQLITEDRIVER_PATH"   // the outbox file
	childWantEnv   = "OUTBOUND_SQLITEDRIVER_WANT"   // a worker stops once this many records are delivered
)

// mixedRecords is how many records the two workers share; every third
// has no key, the others one of 10 keys.
const mixedRecords = 300

// mixedKey returns the ordering key of record i.
func mixedKey(i int) string {
	if i%3 == 0 {
		return ""
	}
	return fmt.Sprint("k", i%10)
}

// Two processes on the two drivers share one file: a process on ncruces
// claims a record under a lease of an hour and exits without settling it,
// then a worker process on each driver claims and completes 300 records at
// once. Every record is claimed once and completed, each key in order (a
// record is claimed no earlier than the completion of the one before it in
// its key, both as the store read the host's clock), and the held record
// is never claimed. Nothing is timed: the children wait up to a minute for
// the write lock, and the parent waits for them.
func TestTwoDriversInTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	store := open(t, path, nil)
	_, err := store.Enqueue(ctx, delivery.Message{ID: "held", Destination: "held", Payload: []byte("x")})
	require.NoError(t, err)
	out, err := runChildren(t, path, "hold", 0, ncruces)
	require.NoError(t, err)
	holder := parseLines(t, out[0])
	require.Len(t, holder, 1, "the holder claimed the held record")

	msgs := make([]delivery.Message, mixedRecords)
	for i := range msgs {
		msgs[i] = delivery.Message{ID: fmt.Sprintf("p-%03d", i), Destination: "partner", Key: mixedKey(i), Payload: []byte("x")}
	}
	_, err = store.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	out, err = runChildren(t, path, "work", mixedRecords, modernc, ncruces)
	require.NoError(t, err)

	claims := map[string][]childLine{}
	for i, o := range out {
		lines := parseLines(t, o)
		t.Logf("worker on %s claimed %d records", []string{"modernc", "ncruces"}[i], len(lines))
		for _, l := range lines {
			claims[l.id] = append(claims[l.id], l)
		}
	}
	assert.Empty(t, claims["held"], "the holder's lease is respected by the other processes")
	r, err := store.Get(ctx, "held")
	require.NoError(t, err)
	assert.Equal(t, delivery.StateInFlight, r.State)
	assert.Equal(t, holder[0].token, r.LeaseToken)

	last := map[string]delivery.Record{}
	for i, m := range msgs {
		require.Len(t, claims[m.ID], 1, "%s is claimed once", m.ID)
		r, err := store.Get(ctx, m.ID)
		require.NoError(t, err)
		assert.Equal(t, delivery.StateDelivered, r.State, m.ID)
		key := mixedKey(i)
		if key == "" {
			continue
		}
		if prev, ok := last[key]; ok {
			assert.False(t, claims[m.ID][0].at.Before(prev.UpdatedAt),
				"key %s: %s claimed at %v, before %s was completed at %v", key, m.ID, claims[m.ID][0].at, prev.ID, prev.UpdatedAt)
		}
		last[key] = r
	}
}

// childLine is a line of a child's output: a record it claimed, the
// store's time of the claim, and the lease token.
type childLine struct {
	id, token string
	at        time.Time
}

// parseLines reads a child's output, one "id unix-nanos token" a line.
func parseLines(t *testing.T, out []byte) []childLine {
	t.Helper()
	var lines []childLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 3, "a child's output line: %q", sc.Text())
		ns, err := strconv.ParseInt(f[1], 10, 64)
		require.NoError(t, err)
		lines = append(lines, childLine{id: f[0], at: time.Unix(0, ns), token: f[2]})
	}
	require.NoError(t, sc.Err())
	return lines
}

// runChildren runs a child in the role on path for each driver at once,
// waits for them all (five minutes at most: a deadlock, not slowness), and
// returns each one's standard output, and an error with their standard
// errors if one failed.
func runChildren(t *testing.T, path, role string, want int, drivers ...string) ([][]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmds := make([]*exec.Cmd, len(drivers))
	outs, errs := make([]bytes.Buffer, len(drivers)), make([]bytes.Buffer, len(drivers))
	for i, driver := range drivers {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childDriverEnv+"="+driver, childPathEnv+"="+path, childWantEnv+"="+strconv.Itoa(want))
		cmd.Stdout, cmd.Stderr = &outs[i], &errs[i]
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	var errList []error
	out := make([][]byte, len(drivers))
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			errList = append(errList, fmt.Errorf("%s on %s: %w: %s", role, drivers[i], err, errs[i].Bytes()))
		}
		out[i] = outs[i].Bytes()
	}
	return out, errors.Join(errList...)
}

// runChild is a child of TestTwoDriversInTwoProcesses: it opens the file
// through its driver (sqlite.Open for modernc, sqlite.OpenDB on a handle
// for ncruces), runs its role and returns the exit code, writing an error
// to stderr.
func runChild() int {
	if err := child(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func child(ctx context.Context) (err error) {
	path := os.Getenv(childPathEnv)
	var store *sqlite.Store
	switch driver := os.Getenv(childDriverEnv); driver {
	case modernc:
		store, err = sqlite.Open(ctx, sqlite.Config{Path: path, BusyTimeout: time.Minute})
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, store.Close()) }()
	case ncruces:
		db, err := sql.Open(ncruces, strings.Replace(dsn(path), "busy_timeout(5000)", "busy_timeout(60000)", 1))
		if err != nil {
			return err
		}
		defer db.Close()
		if store, err = sqlite.OpenDB(ctx, db, sqlite.Config{}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown driver %q", driver)
	}
	w := bufio.NewWriter(os.Stdout)
	defer func() { err = errors.Join(err, w.Flush()) }()
	if os.Getenv(childRoleEnv) == "hold" {
		recs, err := store.Claim(ctx, 1, time.Hour, "partner")
		if err != nil {
			return err
		}
		for _, r := range recs {
			fmt.Fprintln(w, r.ID, r.UpdatedAt.UnixNano(), r.LeaseToken)
		}
		return nil // exits without settling
	}
	want, err := strconv.Atoi(os.Getenv(childWantEnv))
	if err != nil {
		return err
	}
	for {
		recs, err := store.Claim(ctx, 5, 10*time.Minute)
		if err != nil {
			return err
		}
		for _, r := range recs {
			fmt.Fprintln(w, r.ID, r.UpdatedAt.UnixNano(), r.LeaseToken) // a claim sets UpdatedAt to its time
		}
		for _, r := range recs {
			time.Sleep(time.Millisecond) // the attempt: the other worker claims meanwhile
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
		time.Sleep(10 * time.Millisecond) // the heads of the keys are claimed by the other worker
	}
}
