// Command ats is an assessment platform's ATS integration written with outbound: when a
// candidate completes an assessment, the service sends the scored result to
// the scoring API of the client's ATS, without the potholes the field
// report fell into.
//
//	go run ./examples/ats                  # against a local fake of the API
//	go run ./examples/ats -api https://scoring.example.com -token-url ... -client-id ... -client-secret ...
//
// The integration (integration.go) is the part a service would keep: an
// outbox instead of one request per DynamoDB trigger, a dispatcher with
// bounded workers, at most 100 records per run and a rate limit (§1, §2),
// one shared client with bounded keep-alive connections (§3), one cached
// token for every request and instance (§4), a health gate and a breaker
// so a two-day outage leaves a backlog rather than failures (§5), wake-ups
// on inserts only (§6), and the API's special status codes classified: 409
// means the API already has the result, 422 an invalid record and 412 a
// candidate who never completed the assessment, both dropped with the
// reason (§7).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ats:", err)
		os.Exit(1)
	}
}

type options struct {
	api, tokenURL, clientID, clientSecret string
	results                               int
	unit, probeEvery                      time.Duration
	rate                                  float64
	outage                                time.Duration
	timeout                               time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.api, "api", "", "the scoring API's base URL; empty starts a local fake of it")
	fs.StringVar(&o.tokenURL, "token-url", "", "OAuth2 token endpoint (with -api)")
	fs.StringVar(&o.clientID, "client-id", "", "OAuth2 client ID (with -api)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "OAuth2 client secret (with -api)")
	fs.IntVar(&o.results, "results", 200, "how many completed results to submit")
	fs.DurationVar(&o.unit, "backoff-unit", 10*time.Millisecond, "what one minute of the 1m, 3m, 9m, ... retry schedule becomes")
	fs.DurationVar(&o.probeEvery, "probe-every", 50*time.Millisecond, "how often the API's health endpoint is checked")
	fs.Float64Var(&o.rate, "rate", 500, "requests per second at most")
	fs.DurationVar(&o.outage, "outage", 500*time.Millisecond, "with the fake API: how long it is down, a third of the way in (0: never)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up (and exit 1) if results are still unsettled by then")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: go run ./examples/ats [flags]\n\nSubmits completed assessment results to a scoring API through an outbox and reports\nwhat became of each. Without -api it runs against a local fake of the API.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	switch {
	case o.results < 1:
		err = fmt.Errorf("-results must be at least 1, got %d", o.results)
	case o.unit <= 0 || o.probeEvery <= 0 || o.timeout <= 0:
		err = errors.New("-backoff-unit, -probe-every and -timeout must be positive")
	case o.rate <= 0:
		err = fmt.Errorf("-rate must be positive, got %v", o.rate)
	case o.api != "" && (o.tokenURL == "" || o.clientID == ""):
		err = errors.New("-api needs -token-url and -client-id")
	}
	if err != nil {
		fmt.Fprintln(stderr, "ats:", err)
		fs.Usage()
	}
	return o, err
}

// report is what became of the submitted results.
type report struct {
	delivered, duplicates, dead, unsettled int
	discarded                              map[string]int // by reason
	retried                                int
	tokens                                 int // with the fake API
	peakConns                              int // with the fake API
}

func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	cfg := Config{
		BaseURL: o.api, TokenURL: o.tokenURL, ClientID: o.clientID, ClientSecret: o.clientSecret,
		Outbox:        memstore.New(memstore.Config{}),
		RatePerSecond: o.rate,
		Backoff:       retry.Exponential{Initial: o.unit, Factor: 3, Max: 360 * o.unit},
		ProbeEvery:    o.probeEvery,
		BreakerOpen:   10 * o.unit,
		PollInterval:  5 * o.unit,
	}
	var fake *fakeAPI
	if o.api == "" {
		var err error
		if fake, err = newFakeAPI(o.results/3, o.outage, time.Millisecond); err != nil {
			return nil, err
		}
		defer fake.partner.Close()
		cfg.BaseURL, cfg.TokenURL = fake.partner.URL, fake.partner.TokenURL()
		cfg.ClientID, cfg.ClientSecret = fakeClientID, fakeClientSecret
	}
	in, err := NewIntegration(cfg)
	if err != nil {
		return nil, err
	}
	defer in.Close()

	results := make([]Result, o.results)
	now := time.Now().UTC().Truncate(time.Second)
	for i := range results {
		results[i] = Result{CandidateID: candidateID(i), AssessmentID: "graduate-2020", Score: 40 + i%60, CompletedAt: now}
	}
	if err := in.Submit(ctx, results...); err != nil {
		return nil, err
	}
	if err := in.Submit(ctx, results[:10]...); err != nil { // a resubmission changes nothing
		return nil, err
	}
	fmt.Fprintf(out, "submitted %d results to %s\n", len(results), cfg.BaseURL)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx) }()
	waitErr := waitSettled(ctx, cfg.Outbox, o.timeout)
	cancel()
	if err := <-done; err != nil {
		return nil, err
	}

	rep, err := summarize(ctx, cfg.Outbox)
	if err != nil {
		return nil, err
	}
	if fake != nil {
		rep.tokens = fake.issuer.Mints()
		rep.peakConns = fake.partner.PeakConnections()
	}
	rep.print(out)
	if waitErr == nil && rep.unsettled > 0 {
		waitErr = fmt.Errorf("%d results unsettled", rep.unsettled)
	}
	return rep, waitErr
}

func waitSettled(ctx context.Context, outbox delivery.Store, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := outbox.Stats(ctx)
		if err == nil && st.Count(delivery.StatePending)+st.Count(delivery.StateInFlight) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("results still unsettled: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func summarize(ctx context.Context, outbox delivery.Store) (*report, error) {
	rep := &report{discarded: map[string]int{}}
	for after := ""; ; {
		page, err := outbox.List(ctx, delivery.ListOptions{Limit: delivery.MaxPageSize, After: after})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Records {
			rep.retried += max(r.Attempts-1, 0)
			switch r.State {
			case delivery.StateDelivered:
				rep.delivered++
				if r.Duplicate {
					rep.duplicates++
				}
			case delivery.StateDiscarded:
				rep.discarded[reason(r.LastAttempt.Error)]++
			case delivery.StateDead:
				rep.dead++
			default:
				rep.unsettled++
			}
		}
		if page.Next == "" {
			return rep, nil
		}
		after = page.Next
	}
}

// reason extracts the API's error message from a discard's error text.
func reason(text string) string {
	if _, after, ok := strings.Cut(text, `\"error\":\"`); ok {
		if msg, _, ok := strings.Cut(after, `\"`); ok {
			return msg
		}
	}
	return text
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "delivered      %4d  (%d the API already had: 409, marked processed)\n", r.delivered, r.duplicates)
	reasons := make([]string, 0, len(r.discarded))
	for k := range r.discarded {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Fprintf(w, "discarded      %4d  %s\n", r.discarded[k], k)
	}
	fmt.Fprintf(w, "dead-lettered  %4d\n", r.dead)
	fmt.Fprintf(w, "retries        %4d  (500s and the outage, on the backoff schedule)\n", r.retried)
	if r.tokens > 0 {
		fmt.Fprintf(w, "tokens minted  %4d\npeak conns     %4d\n", r.tokens, r.peakConns)
	}
}
