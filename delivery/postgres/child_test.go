package postgres_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/internal/testenv"
)

// The kill test re-executes the test binary as a dispatcher process. These
// variables tell TestMain to run runChild instead of the tests.
const (
	childEnv       = "OUTBOUND_POSTGRES_KILL_CHILD"  // "1" in the child
	childSchemaEnv = "OUTBOUND_POSTGRES_KILL_SCHEMA" // the outbox schema
	childTargetEnv = "OUTBOUND_POSTGRES_KILL_TARGET" // the partner's URL
	childAppName   = "outbound-kill-child"           // application_name of its connections
	// childLease is twice what the dispatcher requires (2*AttemptTimeout
	// + StoreTimeout = 2.5s): under -race on a loaded machine a record can
	// wait seconds between its claim and its settle, and a lease taken
	// over then is a duplicate that no kill explains.
	childLease = 5 * time.Second
)

// runChild is a service instance: it delivers the outbox in the schema
// named by the environment to the target URL through the HTTP deliverer,
// until it receives SIGTERM (and exits 0) or is killed.
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
	conf, err := pgxpool.ParseConfig(os.Getenv(testenv.PostgresEnv))
	if err != nil {
		return err
	}
	conf.ConnConfig.RuntimeParams["application_name"] = childAppName
	pool, err := pgxpool.NewWithConfig(ctx, conf)
	if err != nil {
		return err
	}
	defer pool.Close()
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: os.Getenv(childSchemaEnv)})
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
		AttemptTimeout: time.Second, StoreTimeout: 500 * time.Millisecond, Lease: childLease, PollInterval: 100 * time.Millisecond,
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
