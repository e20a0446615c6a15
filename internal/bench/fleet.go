package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// The fleet comparison: several dispatcher processes (real child
// processes of the benchmark) work one PostgreSQL queue of records for a
// partner that accepts PartnerRate requests a second and answers 429 above
// it. The partner counts the requests it sees in windows of Window.

// FleetConfig is one run of the fleet comparison.
type FleetConfig struct {
	// PG is the PostgreSQL URL; the queue gets a fresh schema there.
	PG string
	// Processes is how many dispatcher processes share the queue (4).
	Processes int
	// Duration is how long they run (60s).
	Duration time.Duration
	// Window is the span the partner counts requests in (5s).
	Window time.Duration
	// PartnerRate is what the partner accepts per second (20).
	PartnerRate float64
	// ChildArgs are the arguments the executable is started with as a
	// child: none for a command whose main calls [RunFleetChild] when
	// [IsFleetChild]; "-test.run=^$" for a test binary whose TestMain does.
	ChildArgs []string
}

func (c FleetConfig) withDefaults() FleetConfig {
	if c.Processes == 0 {
		c.Processes = 4
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Window == 0 {
		c.Window = 5 * time.Second
	}
	if c.PartnerRate == 0 {
		c.PartnerRate = 20
	}
	return c
}

// FleetContender is a queue library, configured for the partner's limit
// the way its documentation suggests.
type FleetContender struct {
	// Name is the row's label.
	Name string
	// Ours marks outbound's rows.
	Ours bool
	// Kind is "outbound" (a DestinationConfig.Rate of Rate, held
	// fleet-wide in the store) or "river" (a rate.Limiter of
	// Rate/Processes in each process's worker: River's open-source
	// version has no limit across processes).
	Kind string
	// Rate is the rate configured for the whole fleet, per second.
	Rate float64
}

// FleetContenders returns the rows of the fleet comparison for a partner
// accepting partnerRate per second: each library configured with that
// rate, and with five times it (a limit the user got wrong, or that the
// partner lowered: outbound learns the partner's from its 429s).
func FleetContenders(partnerRate float64) []FleetContender {
	hi := 5 * partnerRate
	return []FleetContender{
		{Name: "outbound, Rate " + fmtRate(partnerRate), Ours: true, Kind: "outbound", Rate: partnerRate},
		{Name: "outbound, Rate " + fmtRate(hi) + " (learns)", Ours: true, Kind: "outbound", Rate: hi},
		{Name: "River, rate.Limiter of " + fmtRate(partnerRate) + "/processes", Kind: "river", Rate: partnerRate},
		{Name: "River, rate.Limiter of " + fmtRate(hi) + "/processes", Kind: "river", Rate: hi},
	}
}

func fmtRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) + "/s" }

// FleetResult is what the partner saw during one run.
type FleetResult struct {
	// Window is the span of each count in Windows.
	Window time.Duration
	// Duration is the run's length; requests after it (while the
	// processes stop) are not counted.
	Duration time.Duration
	// Windows is the requests the partner saw in each window, the last
	// one possibly shorter.
	Windows []int
	// RefusedWindows is the requests answered 429 in each window.
	RefusedWindows []int
	// Requests and Refused are the requests seen during Duration, and
	// those of them answered 429.
	Requests, Refused int
	// Accepted is every request the partner accepted, during Duration or
	// while the processes stopped.
	Accepted int
	// Delivered is the records (jobs) the queue holds as done at the end.
	Delivered int
}

// WindowRate returns the requests per second of window i.
func (r FleetResult) WindowRate(i int) float64 {
	span := min(r.Window, r.Duration-time.Duration(i)*r.Window)
	return float64(r.Windows[i]) / span.Seconds()
}

// MaxAfterFirst returns the highest requests per second of any window but
// the first (0 with a single window).
func (r FleetResult) MaxAfterFirst() float64 {
	m := 0.0
	for i := 1; i < len(r.Windows); i++ {
		m = max(m, r.WindowRate(i))
	}
	return m
}

// Average returns the requests per second over the whole run.
func (r FleetResult) Average() float64 { return float64(r.Requests) / r.Duration.Seconds() }

// RefusedShare returns the share of the requests answered 429, 0 to 1.
func (r FleetResult) RefusedShare() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Refused) / float64(r.Requests)
}

// fleetQueue is the queue a fleet run fills and its children work.
type fleetQueue struct {
	Queue
	schema string
}

func openFleetQueue(ctx context.Context, kind, url string, n int) (*fleetQueue, error) {
	switch kind {
	case "outbound":
		q, err := openOutbound(ctx, url)
		if err != nil {
			return nil, err
		}
		oq := q.(*outboundQueue)
		for n > 0 {
			msgs := make([]delivery.Message, 0, min(n, 1000))
			for range cap(msgs) {
				oq.seq++
				msgs = append(msgs, delivery.Message{Destination: fleetDestination, Payload: jobPayload(oq.seq)})
			}
			if _, err := oq.store.Enqueue(ctx, msgs...); err != nil {
				return nil, errors.Join(err, q.Close(context.WithoutCancel(ctx)))
			}
			n -= len(msgs)
		}
		return &fleetQueue{Queue: q, schema: oq.schema}, nil
	case "river":
		q, err := openRiver(ctx, url, true)
		if err != nil {
			return nil, err
		}
		if err := q.Insert(ctx, n, 1000); err != nil {
			return nil, errors.Join(err, q.Close(context.WithoutCancel(ctx)))
		}
		return &fleetQueue{Queue: q, schema: q.(*riverQueue).schema}, nil
	}
	return nil, fmt.Errorf("bench: unknown fleet contender kind %q", kind)
}

// RunFleet runs c's processes against a rate-limited partner for
// cfg.Duration and returns what the partner saw. It returns an error if
// the queue cannot be set up, a process cannot be started or exits with
// an error (its output is in the error), or ctx ends first.
func RunFleet(ctx context.Context, cfg FleetConfig, c FleetContender) (FleetResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Processes < 1 || cfg.Duration <= 0 || cfg.Window <= 0 || cfg.PartnerRate <= 0 || c.Rate <= 0 {
		return FleetResult{}, errors.New("bench: fleet: Processes, Duration, Window, PartnerRate and the contender's Rate must be positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return FleetResult{}, err
	}
	partner, err := startRatedPartner(cfg.PartnerRate)
	if err != nil {
		return FleetResult{}, err
	}
	defer partner.close()
	// A backlog the configured rate cannot drain during the run.
	records := int(c.Rate*cfg.Duration.Seconds()*1.2) + 100
	q, err := openFleetQueue(ctx, c.Kind, cfg.PG, records)
	if err != nil {
		return FleetResult{}, err
	}
	defer func() { _ = q.Close(context.WithoutCancel(ctx)) }()

	childRate := c.Rate
	if c.Kind == "river" {
		childRate = c.Rate / float64(cfg.Processes)
	}
	env := append(os.Environ(),
		fleetChildEnv+"="+c.Kind, fleetPGEnv+"="+cfg.PG, fleetSchemaEnv+"="+q.schema,
		fleetTargetEnv+"="+partner.url, fleetRateEnv+"="+strconv.FormatFloat(childRate, 'g', -1, 64))
	start := time.Now()
	children := make([]*fleetProcess, 0, cfg.Processes)
	defer func() {
		for _, p := range children {
			p.kill()
		}
	}()
	for range cfg.Processes {
		p, err := startFleetProcess(exe, cfg.ChildArgs, env)
		if err != nil {
			return FleetResult{}, err
		}
		children = append(children, p)
	}
	select {
	case <-time.After(time.Until(start.Add(cfg.Duration))):
	case <-ctx.Done():
		return FleetResult{}, ctx.Err()
	}
	var errs []error
	for i, p := range children {
		if err := p.stop(15 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("process %d: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return FleetResult{}, err
	}
	res := FleetResult{Window: cfg.Window, Duration: cfg.Duration}
	res.Windows = make([]int, int((cfg.Duration+cfg.Window-1)/cfg.Window))
	res.RefusedWindows = make([]int, len(res.Windows))
	for _, h := range partner.seen() {
		if !h.refused {
			res.Accepted++
		}
		at := h.at.Sub(start)
		if at < 0 || at >= cfg.Duration {
			continue
		}
		res.Windows[at/cfg.Window]++
		res.Requests++
		if h.refused {
			res.Refused++
			res.RefusedWindows[at/cfg.Window]++
		}
	}
	res.Delivered, err = q.Completed(ctx)
	return res, err
}

// fleetProcess is a started child process and its output.
type fleetProcess struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

func startFleetProcess(exe string, args, env []string) (*fleetProcess, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start a fleet process: %w", err)
	}
	p := &fleetProcess{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (p *fleetProcess) stop(grace time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done = nil
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil // ended by the signal before its handler was installed (a short run, a slow start)
		}
		if err != nil {
			return fmt.Errorf("%w; output:\n%s", err, p.out.String())
		}
		return nil
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("did not stop within %v; output:\n%s", grace, p.out.String())
	}
}

// kill ends a process that has not been stopped.
func (p *fleetProcess) kill() {
	if p.done == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.done = nil
}
