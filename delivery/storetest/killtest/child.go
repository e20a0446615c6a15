package killtest

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
)

// The parent tells a re-executed test binary that it is the child, and
// where the partner listens, through these environment variables.
const (
	childEnv  = "OUTBOUND_KILLTEST_CHILD"  // "1" in the child
	targetEnv = "OUTBOUND_KILLTEST_TARGET" // the partner's URL
)

// IsChild reports whether this process is a child started by Run; its
// TestMain then calls RunChild instead of running the tests.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// Timing is the child dispatcher's lease and store timeout. A store whose
// calls can be slow under -race on a loaded machine needs generous ones: a
// settle that times out, or a lease taken over while a record is being
// sent, makes a duplicate that no kill explains.
type Timing struct {
	// Lease is DispatcherConfig.Lease; it must exceed twice one second
	// (the attempt timeout) plus StoreTimeout.
	Lease time.Duration
	// StoreTimeout is DispatcherConfig.StoreTimeout.
	StoreTimeout time.Duration
}

// OpenFunc opens, in the child, the store the parent named in
// Config.ChildEnv, and returns it with the function that closes it.
type OpenFunc func(ctx context.Context) (delivery.Store, func() error, error)

// RunChild is the child: it opens the store with open and delivers its
// records to the parent's partner through the HTTP deliverer, until it
// receives SIGTERM (then it returns 0) or is killed. An error is written
// to stderr and returns 1; so are, for the parent to show when it fails,
// every attempt that did not end with the record delivered and every
// failed store write.
func RunChild(open OpenFunc, timing Timing) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := child(ctx, open, timing); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

func child(ctx context.Context, open OpenFunc, timing Timing) error {
	store, closeStore, err := open(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = closeStore() }()
	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
	if err != nil {
		return err
	}
	send, err := httpdelivery.New(httpdelivery.Config{
		Client: client,
		Build:  httpdelivery.PostTo(os.Getenv(targetEnv), "application/json"),
	})
	if err != nil {
		return err
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: send, Concurrency: 8, MaxPerRun: 100,
		AttemptTimeout: time.Second, StoreTimeout: timing.StoreTimeout, Lease: timing.Lease,
		PollInterval: 100 * time.Millisecond,
		Observer:     unusualOutcomes{},
	})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

// unusualOutcomes writes to stderr every attempt that did not end with the
// record delivered and every failed store write: these explain a
// duplicate that no kill does.
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
