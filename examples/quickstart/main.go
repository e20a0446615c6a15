// Command quickstart is outbound's demonstration: it delivers a backlog of
// records to three local fake partners that misbehave the way real
// partners do, through the library's whole pipeline, and shows what
// happened to every record and at every partner.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -records 5000 -outage 2s
//	go run ./examples/quickstart -store sqlite:/tmp/outbox.db
//	go run ./examples/quickstart -store postgres:postgres://postgres@127.0.0.1:5432/test
//
// Each record is for one of three partners (package deliverytest), each a
// destination of its own:
//
//   - ats is healthy: it demands an OAuth2 token from its own token
//     endpoint and refuses a few records for lack of credit (402);
//   - crm throttles: twice in the run it answers everything 429 with
//     Retry-After: 1 for a second;
//   - webhooks goes down for a while: its port refuses connections.
//
// All three fail some records once with 503, reject a few as invalid
// records and already have a few.
//
// The records go into an outbox (-store: in memory, a SQLite file, or
// PostgreSQL; -postgres URL is -store postgres:URL)
// and one Dispatcher delivers them, with a pipeline per destination
// (DispatcherConfig.Destinations): its own client, URL and protection (a
// token shared through tokencache, a health gate and a circuit breaker for
// ats; at most 4 requests in flight for crm). Records of one candidate go
// in order, the 1m, 3m, 9m, ... retry backoff is compressed to milliseconds
// (-backoff-unit). A 429 with Retry-After or a refused connection pauses
// that destination alone, for every worker, without spending the records'
// attempts; when the pause ends one probe record tries it. The other
// partners are not held up.
//
// It prints live progress (a bar on a terminal, lines otherwise) and a
// summary with a line per destination: delivered, discarded, dead-lettered,
// deferred, how long and why it was paused, and how many requests its
// partner received while it was paused (none). It exits with status 1 if
// any record is unaccounted for, or a partner was sent requests while
// paused.
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
	records       int
	concurrency   int
	maxConns      int
	unit          time.Duration
	outage        time.Duration
	outageAfter   int
	throttles     int
	throttleEvery int
	latency       time.Duration
	rate          float64
	store         string // the -store flag as given
	postgres      string // the PostgreSQL URL, from -store postgres:URL or -postgres
	sqlite        string // the SQLite file, from -store sqlite:PATH
	keep          bool
	timeout       time.Duration
	progress      string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.records, "records", 1000, "how many records to enqueue and deliver")
	fs.IntVar(&c.concurrency, "concurrency", 16, "dispatcher workers: how many records are in flight at once")
	fs.IntVar(&c.maxConns, "max-conns", 8, "connections to each partner its HTTP client may open (MaxConnsPerHost)")
	fs.DurationVar(&c.unit, "backoff-unit", 10*time.Millisecond,
		"what one minute of the real schedule becomes: the retry backoff 1m, 3m, 9m, ... runs as 1, 3, 9, ... units;\n"+
			"the breaker's open time is 10 units, the health probe interval 5 units and its timeout 20 units,\n"+
			"a refused connection pauses the destination for 20, 60, 180 units (at least a second)")
	fs.DurationVar(&c.outage, "outage", time.Second, "how long webhooks refuses connections in the middle of the run (0: no outage)")
	fs.IntVar(&c.outageAfter, "outage-after", 100, "how many requests webhooks answers before its outage begins")
	fs.IntVar(&c.throttles, "throttles", 2, "how many times crm throttles: 429 with Retry-After: 1 to everything for a second (0: never)")
	fs.IntVar(&c.throttleEvery, "throttle-every", 100, "how many requests crm accepts before each time it throttles")
	fs.DurationVar(&c.latency, "latency", 2*time.Millisecond, "how long each partner takes to answer each request")
	fs.Float64Var(&c.rate, "rate", 0, "at most this many requests per second to each partner (0: no limit)")
	fs.StringVar(&c.store, "store", storeMemory, "the outbox: memory, sqlite:PATH (a new file) or postgres:URL (a fresh schema)")
	fs.StringVar(&c.postgres, "postgres", "", "PostgreSQL URL: the same as -store postgres:URL")
	fs.BoolVar(&c.keep, "keep", false, "with a SQLite or PostgreSQL store, keep the file or schema afterwards (removed by default)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up (and exit 1) if the backlog is not settled by then")
	fs.StringVar(&c.progress, "progress", progressAuto, "live progress: auto (a bar on a terminal, lines otherwise), bar, lines or off")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: go run ./examples/quickstart [flags]

Delivers a backlog of records to three local fake partners, through
outbound's whole pipeline: ats (healthy, demands a token), crm (throttles
with 429 and Retry-After) and webhooks (refuses connections for a while);
all fail and reject some records. Reports what happened to every record
and, per partner, how long it was paused and how many requests it received
while paused. Exits with status 1 if any record is unaccounted for or a
partner was sent requests while paused.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	err := c.parseStore()
	if err == nil {
		err = c.validate()
	}
	if err != nil {
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
	case c.throttles < 0:
		return fmt.Errorf("-throttles must not be negative, got %d", c.throttles)
	case c.throttleEvery < 1:
		return fmt.Errorf("-throttle-every must be at least 1, got %d", c.throttleEvery)
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
