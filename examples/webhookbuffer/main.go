// Command webhookbuffer is a webhook buffer written with outbound:
// an HTTP endpoint that stores each webhook with its group id and answers
// 202 at once, and a dispatcher that forwards the webhooks to a backend at
// the pace the backend can take, one at a time and in order within a
// group, different groups in parallel.
//
//	go run ./examples/webhookbuffer                 # a demo against a local fake backend
//	go run ./examples/webhookbuffer -listen :8080 -backend http://localhost:9000/hooks
//
// Webhooks are POSTed to the endpoint with an X-Group-ID header (an order
// id: everything about one order stays in order) and optionally an
// X-Webhook-ID header (a retried webhook is buffered once). The backend
// may be slow or down: senders still get their 202, and the webhooks wait
// in the outbox. Here the outbox is in memory; a service would use package
// delivery/postgres so that buffered webhooks survive a restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.backend != "" {
		var ln net.Listener
		if ln, err = net.Listen("tcp", o.listen); err == nil {
			err = serve(ctx, ln, o.backend, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		}
	} else {
		_, err = demo(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhookbuffer:", err)
		os.Exit(1)
	}
}

type options struct {
	listen, backend string
	webhooks        int
	groups          int
	unit            time.Duration
	backendOutage   time.Duration
	timeout         time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("webhookbuffer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.backend, "backend", "", "URL to forward webhooks to; empty runs a demo against a local fake backend")
	fs.StringVar(&o.listen, "listen", ":8080", "address of the webhook endpoint (with -backend)")
	fs.IntVar(&o.webhooks, "webhooks", 400, "demo: how many webhooks to send")
	fs.IntVar(&o.groups, "groups", 20, "demo: how many groups (orders) they belong to")
	fs.DurationVar(&o.unit, "backoff-unit", 10*time.Millisecond, "demo: what one minute of the 1m, 3m, 9m, ... retry schedule becomes")
	fs.DurationVar(&o.backendOutage, "backend-outage", 300*time.Millisecond, "demo: how long the backend is down at the start (0: never)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "demo: give up (and exit 1) if webhooks are still unforwarded by then")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./examples/webhookbuffer [flags]\n\nBuffers webhooks (202 at once) and forwards them to a backend in per-group order.\nWithout -backend it runs a demo against a local fake backend.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	switch {
	case o.webhooks < 1 || o.groups < 1:
		err = errors.New("-webhooks and -groups must be at least 1")
	case o.unit <= 0 || o.timeout <= 0 || o.backendOutage < 0:
		err = errors.New("-backoff-unit and -timeout must be positive, -backend-outage not negative")
	}
	if err != nil {
		fmt.Fprintln(stderr, "webhookbuffer:", err)
		fs.Usage()
	}
	return o, err
}

// serve runs the buffer on ln and forwards to backend until ctx ends, then
// shuts the endpoint down gracefully and stops forwarding.
func serve(ctx context.Context, ln net.Listener, backend string, log *slog.Logger) error {
	outbox := memstore.New(memstore.Config{})
	fwd, err := NewForwarder(ForwarderConfig{Outbox: outbox, Backend: backend})
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: &Buffer{outbox: outbox, log: log}, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- fwd.Run(ctx) }()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Info("buffering webhooks", "listen", ln.Addr().String(), "backend", backend)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-done
}

// demoBackoff is the retry schedule of the demo: 1m, 3m, 9m, ... in units.
func demoBackoff(unit time.Duration) retry.Backoff {
	return retry.Exponential{Initial: unit, Factor: 3, Max: 360 * unit}
}
