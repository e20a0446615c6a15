package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// The kill test re-executes the test binary as a dispatcher process. These
// variables tell TestMain to run runChild instead of the tests.
const (
	childEnv       = "OUTBOUND_SQLITE_KILL_CHILD"  // "1" in the child
	childPathEnv   = "OUTBOUND_SQLITE_KILL_PATH"   // the outbox file
	childTargetEnv = "OUTBOUND_SQLITE_KILL_TARGET" // the partner's URL
	// childStoreTimeout bounds each store call. It is generous because
	// the driver is C translated to Go: under -race every one of its
	// memory accesses is instrumented, and a settle queued behind a claim
	// on a loaded machine can take over a second; a settle that times out
	// leaves a delivered record to be delivered again, a duplicate no kill
	// explains.
	childStoreTimeout = 2 * time.Second
	// childLease is twice what the dispatcher requires (2*AttemptTimeout
	// + StoreTimeout = 4s), so that a slow settle is not taken over.
	childLease = 8 * time.Second
)

// runChild is a service instance: it delivers the outbox in the file named
// by the environment to the target URL through the HTTP deliverer, until
// it receives SIGTERM (and exits 0) or is killed.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := child(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func child(ctx context.Context) error {
	store, err := sqlite.Open(ctx, sqlite.Config{Path: os.Getenv(childPathEnv)})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
	if err != nil {
		return err
	}
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(os.Getenv(childTargetEnv), "application/json"),
	})
	if err != nil {
		return err
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: send, Concurrency: 8, MaxPerRun: 100,
		AttemptTimeout: time.Second, StoreTimeout: childStoreTimeout, Lease: childLease, PollInterval: 100 * time.Millisecond,
		Observer: unusualOutcomes{},
	})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// unusualOutcomes writes to stderr, for the parent test to show when it
// fails, every attempt that did not end with the record delivered and
// every failed store write: these explain a duplicate that no kill does.
type unusualOutcomes struct{}

func (unusualOutcomes) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if e.StoreErr != nil || e.Action != delivery.ActionDelivered {
		fmt.Fprintf(os.Stderr, "%s %s: %s class=%v err=%v store_err=%v\n",
			time.Now().Format("15:04:05.000"), e.Record.ID, e.Action, e.Class(), e.Err, e.StoreErr)
	}
}

func (unusualOutcomes) ObserveRun(_ context.Context, r delivery.Report) {
	if r.Err != nil {
		fmt.Fprintf(os.Stderr, "%s run: %v\n", time.Now().Format("15:04:05.000"), r.Err)
	}
}
