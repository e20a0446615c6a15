package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
)

// childPathEnv names, for the kill test's child, the outbox file.
const childPathEnv = "OUTBOUND_SQLITE_KILL_PATH"

// childTiming is generous because the driver is C translated to Go: under
// -race every one of its memory accesses is instrumented, and a settle
// queued behind a claim on a loaded machine can take over a second; a
// settle that times out leaves a delivered record to be delivered again,
// a duplicate no kill explains. The lease is twice what the dispatcher
// requires (2 × 1s attempt + 2s store timeout).
var childTiming = killtest.Timing{Lease: 8 * time.Second, StoreTimeout: 2 * time.Second}

// A dispatcher process on the outbox file is SIGKILLed five times
// mid-drain of 2,000 records and restarted: nothing is lost, and the
// duplicates stay within the records in flight at the kills (package
// killtest).
func TestKilledDispatcherLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	res := killtest.Run(t, killtest.Config{
		Store: open(t, path, nil), Records: 2000, Kills: 5,
		ChildEnv: []string{childPathEnv + "=" + path},
	})
	t.Logf("SQLite: %.2f duplicates per kill", res.DuplicatesPerKill())
}

// openChildStore opens, in the child, the outbox file the parent named.
func openChildStore(ctx context.Context) (delivery.Store, func() error, error) {
	s, err := sqlite.Open(ctx, sqlite.Config{Path: os.Getenv(childPathEnv)})
	if err != nil {
		return nil, nil, err
	}
	return s, s.Close, nil
}
