package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/retry"
)

// The parent of the chaos comparison tells a re-executed binary that it is
// its dispatcher process, and what to work, through these variables.
const (
	chaosChildEnv   = "OUTBOUND_BENCH_CHAOS_CHILD" // "outbound" or "river"
	chaosPGEnv      = "OUTBOUND_BENCH_CHAOS_PG"
	chaosSchemaEnv  = "OUTBOUND_BENCH_CHAOS_SCHEMA"
	chaosTargetEnv  = "OUTBOUND_BENCH_CHAOS_TARGET"
	chaosWorkersEnv = "OUTBOUND_BENCH_CHAOS_WORKERS"
)

// The chaos dispatcher's timing: short, so that the cells finish in
// seconds. Lease must exceed 2×AttemptTimeout + StoreTimeout
// (DispatcherConfig.Lease); it is how long the records a SIGKILLed
// process had claimed wait before another process takes them over.
const (
	ChaosAttemptTimeout = 2 * time.Second
	ChaosStoreTimeout   = 2 * time.Second
	ChaosLease          = 7 * time.Second
	chaosPollInterval   = 250 * time.Millisecond
)

// ChaosBackoff is the retry schedule of the chaos dispatcher: 100ms, 300ms,
// 900ms, 2.7s, then 3s.
var ChaosBackoff = retry.Exponential{Initial: 100 * time.Millisecond, Factor: 3, Max: 3 * time.Second}

// chaosAppName is the application_name of the dispatcher's connections:
// the backends the "terminated" cell ends.
const chaosAppName = "outbound-chaos-dispatcher"

// IsChaosChild reports whether this process was started by the chaos
// comparison as its dispatcher process; main (or TestMain) must then call
// [RunChaosChild] and exit with its code.
func IsChaosChild() bool { return os.Getenv(chaosChildEnv) != "" }

// RunChaosChild is the dispatcher process of the chaos comparison: it
// works the parent's queue on the parent's private PostgreSQL server until
// SIGTERM, then returns 0. If the dispatcher cannot be set up or Run
// returns an error, it writes the error to stderr and returns 1.
func RunChaosChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := chaosChild(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaos child:", err)
		return 1
	}
	return 0
}

func chaosChild(ctx context.Context) error {
	workers, err := strconv.Atoi(os.Getenv(chaosWorkersEnv))
	if err != nil || workers < 1 {
		return fmt.Errorf("bad %s %q", chaosWorkersEnv, os.Getenv(chaosWorkersEnv))
	}
	pcfg, err := pgxpool.ParseConfig(os.Getenv(chaosPGEnv))
	if err != nil {
		return err
	}
	pcfg.MaxConns = int32(workers) + 4
	pcfg.ConnConfig.RuntimeParams["application_name"] = chaosAppName
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch kind := os.Getenv(chaosChildEnv); kind {
	case "outbound":
	case "river":
		return chaosRiverChild(ctx, pool, os.Getenv(chaosSchemaEnv), os.Getenv(chaosTargetEnv), workers)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	store, err := postgres.New(postgres.Config{
		Pool: pool, Schema: os.Getenv(chaosSchemaEnv),
		PollInterval: chaosPollInterval, MaxReconnectDelay: time.Second,
	})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: workers})
	if err != nil {
		return err
	}
	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(os.Getenv(chaosTargetEnv), "application/json")})
	if err != nil {
		return err
	}
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: send, Concurrency: workers,
		Policy:         retry.Policy{Backoff: ChaosBackoff, MaxAttempts: 1000},
		AttemptTimeout: ChaosAttemptTimeout, StoreTimeout: ChaosStoreTimeout, Lease: ChaosLease,
		PollInterval: chaosPollInterval, ShutdownGrace: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	err = d.Run(ctx)
	if ctx.Err() != nil && err == nil {
		return nil // stopped by the parent
	}
	return err
}

// chaosProcess is a started dispatcher process of the chaos comparison.
type chaosProcess struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed when it has exited; err is then set
	err    error
}

// syncBuffer is a bytes.Buffer the child's output can be written to while
// the parent reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startChaosProcess(exe string, args, env []string) (*chaosProcess, error) {
	cmd := exec.Command(exe, args...)
	cmd.Env = env
	p := &chaosProcess{cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: chaos: start the dispatcher process: %w", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM and waits up to grace for a clean exit, then kills
// the process. It returns an error holding the process's output if the
// process exited with an error (before or after the signal) or did not
// stop in time.
func (p *chaosProcess) stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
			return nil // ended by the signal before its handler was installed
		}
		return p.exitErr()
	case <-time.After(grace):
		p.kill()
		return fmt.Errorf("bench: chaos: the dispatcher process did not stop within %v; output:\n%s", grace, p.out.String())
	}
}

// exitErr returns the error of an exited process, with its output.
func (p *chaosProcess) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("bench: chaos: the dispatcher process exited: %w; output:\n%s", p.err, p.out.String())
	}
	return nil
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *chaosProcess) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// exitErrUnlessKilled returns nil for a process that SIGKILL ended, and
// what exitErr returns for one that had exited on its own.
func (p *chaosProcess) exitErrUnlessKilled() error {
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return nil
	}
	return p.exitErr()
}
