// Command quickstart is outbound's demonstration: it delivers a backlog of
// records to a local fake partner that misbehaves the way real partners do,
// through the library's whole pipeline, and shows what happened to every
// record.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -records 5000 -outage 2s
//	go run ./examples/quickstart -postgres postgres://postgres@127.0.0.1:5432/test
//
// The partner (package deliverytest) answers most records at once, but it
// is down for a while in the middle of the run (its health endpoint fails
// too), throttles some records with 429 and a Retry-After, fails some once
// with 503, rejects a few as invalid records, already has a few, refuses a
// few for lack of credit, and demands an OAuth2 token from its own token
// endpoint.
//
// The records go into an outbox (in memory, or PostgreSQL with -postgres)
// and a Dispatcher delivers them: a bounded number of workers sharing one
// HTTP client with bounded connections, records of one candidate in order,
// the 1m, 3m, 9m, ... backoff compressed to milliseconds (-backoff-unit),
// a circuit breaker and a health gate so the outage costs waiting instead
// of attempts, and one token shared through tokencache. It prints live
// progress (a bar on a terminal, lines otherwise) and a summary, and exits
// with status 1 if any record is unaccounted for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	if cfg.progress == progressAuto {
		cfg.progress = progressLines
		if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			cfg.progress = progressBar
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// Progress display modes.
const (
	progressAuto  = "auto"
	progressBar   = "bar"
	progressLines = "lines"
	progressOff   = "off"
)

// config is what the flags set.
type config struct {
	records     int
	concurrency int
	maxConns    int
	unit        time.Duration
	outage      time.Duration
	outageAfter int
	latency     time.Duration
	rate        float64
	postgres    string
	keep        bool
	timeout     time.Duration
	progress    string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.records, "records", 1000, "how many records to enqueue and deliver")
	fs.IntVar(&c.concurrency, "concurrency", 16, "dispatcher workers: how many records are in flight at once")
	fs.IntVar(&c.maxConns, "max-conns", 8, "connections to the partner the shared HTTP client may open (MaxConnsPerHost)")
	fs.DurationVar(&c.unit, "backoff-unit", 10*time.Millisecond,
		"what one minute of the real schedule becomes: the retry backoff 1m, 3m, 9m, ... runs as 1, 3, 9, ... units;\n"+
			"the breaker's open time is 10 units, the health probe interval 5 units and its timeout 20 units")
	fs.DurationVar(&c.outage, "outage", time.Second, "how long the partner is down in the middle of the run (0: no outage)")
	fs.IntVar(&c.outageAfter, "outage-after", 300, "how many requests the partner answers before the outage begins")
	fs.DurationVar(&c.latency, "latency", 2*time.Millisecond, "how long the partner takes to answer each request")
	fs.Float64Var(&c.rate, "rate", 0, "at most this many requests per second to the partner (0: no limit)")
	fs.StringVar(&c.postgres, "postgres", "", "PostgreSQL URL: keep the outbox in a fresh schema there instead of in memory")
	fs.BoolVar(&c.keep, "keep", false, "with -postgres, keep the schema afterwards (it is dropped by default)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up (and exit 1) if the backlog is not settled by then")
	fs.StringVar(&c.progress, "progress", progressAuto, "live progress: auto (a bar on a terminal, lines otherwise), bar, lines or off")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/quickstart [flags]

Delivers a backlog of records to a local fake partner that has an outage,
throttles, fails and rejects some records and demands a token, through
outbound's whole pipeline, and reports what happened to every record.
Exits with status 1 if any record is unaccounted for.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := c.validate(); err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		fs.Usage()
		return c, err
	}
	return c, nil
}

func (c config) validate() error {
	switch {
	case c.records < 1:
		return fmt.Errorf("-records must be at least 1, got %d", c.records)
	case c.concurrency < 1:
		return fmt.Errorf("-concurrency must be at least 1, got %d", c.concurrency)
	case c.maxConns < 1:
		return fmt.Errorf("-max-conns must be at least 1, got %d", c.maxConns)
	case c.unit <= 0:
		return fmt.Errorf("-backoff-unit must be positive, got %v", c.unit)
	case c.outage < 0:
		return fmt.Errorf("-outage must not be negative, got %v", c.outage)
	case c.outageAfter < 0:
		return fmt.Errorf("-outage-after must not be negative, got %d", c.outageAfter)
	case c.latency < 0:
		return fmt.Errorf("-latency must not be negative, got %v", c.latency)
	case c.rate < 0:
		return fmt.Errorf("-rate must not be negative, got %v", c.rate)
	case c.timeout <= 0:
		return fmt.Errorf("-timeout must be positive, got %v", c.timeout)
	}
	switch c.progress {
	case progressAuto, progressBar, progressLines, progressOff:
		return nil
	}
	return fmt.Errorf("-progress must be auto, bar, lines or off, got %q", c.progress)
}
