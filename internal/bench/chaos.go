package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// The chaos comparison: records enqueued in outbound's PostgreSQL store on
// a private PostgreSQL server, delivered by a Dispatcher in a child
// process with the HTTP deliverer to a loopback partner that records every
// delivery by its Idempotency-Key. When about a third have been delivered,
// a fault is injected; the run goes on until every record is delivered
// and settled (or a deadline), and the partner's records say how many were
// lost, how many were delivered more than once, and how long deliveries
// stopped.

// ChaosConfig configures the chaos comparison.
type ChaosConfig struct {
	// PGBin is the directory of the PostgreSQL server binaries; empty
	// means the newest under /usr/lib/postgresql (see [FindPGBin]).
	PGBin string
	// Records is how many records each cell enqueues (20000).
	Records int
	// Workers is the dispatcher's Concurrency (8).
	Workers int
	// Latency is how long the partner takes to answer (5ms).
	Latency time.Duration
	// Hold is how long the pool-exhaustion cell holds the server's free
	// connection slots (5s).
	Hold time.Duration
	// Timeout bounds each cell: records not delivered by then are lost
	// (3m).
	Timeout time.Duration
	// MaxConnections is the private server's max_connections (24); 3 of
	// them are reserved for superusers.
	MaxConnections int
	// ChildArgs are the arguments the executable is started with as the
	// dispatcher process: none for a command whose main calls
	// [RunChaosChild] when [IsChaosChild]; "-test.run=^$" for a test
	// binary whose TestMain does.
	ChildArgs []string
}

func (c ChaosConfig) withDefaults() ChaosConfig {
	if c.Records == 0 {
		c.Records = 20000
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.Latency == 0 {
		c.Latency = 5 * time.Millisecond
	}
	if c.Hold == 0 {
		c.Hold = 5 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Minute
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 24
	}
	return c
}

// ChaosFault is a fault a chaos cell injects.
type ChaosFault string

// The faults of the chaos comparison.
const (
	// FaultPGRestart restarts the PostgreSQL server (pg_ctl restart -m
	// fast: sessions are disconnected, the server checkpoints, stops and
	// starts again). The fault ends when the server accepts connections.
	FaultPGRestart ChaosFault = "pg-restart"
	// FaultTerminate ends every backend of the dispatcher's connections
	// (pg_terminate_backend from a superuser connection), twice, a second
	// apart. The fault ends with the second.
	FaultTerminate ChaosFault = "terminate"
	// FaultPoolExhausted has another client take every free connection
	// slot of the server (as an ordinary role, so up to max_connections
	// minus the superuser-reserved slots) and hold them for
	// ChaosConfig.Hold. The fault ends when it lets them go.
	FaultPoolExhausted ChaosFault = "pool-exhausted"
	// FaultPoolExhaustedCut is FaultPoolExhausted with the dispatcher's
	// backends terminated once the slots are taken: its pool must open
	// new connections while the server has none free. The fault ends when
	// the other client lets the slots go.
	FaultPoolExhaustedCut ChaosFault = "pool-exhausted-cut"
	// FaultSIGKILL kills the dispatcher process with SIGKILL and starts a
	// new one at once; the records the killed process had claimed wait
	// for their lease (ChaosLease) to expire. The fault ends when the new
	// process has been started.
	FaultSIGKILL ChaosFault = "sigkill"
)

// ChaosCell is one row of the chaos comparison.
type ChaosCell struct {
	// Name is the row's label.
	Name string
	// Fault is what the cell does to the running dispatcher.
	Fault ChaosFault
}

// ChaosCells returns the cells of the chaos comparison, in the issue's
// order.
func ChaosCells() []ChaosCell {
	return []ChaosCell{
		{Name: "PostgreSQL restarted mid-run", Fault: FaultPGRestart},
		{Name: "the dispatcher's backends terminated (twice)", Fault: FaultTerminate},
		{Name: "the connection slots exhausted by another client", Fault: FaultPoolExhausted},
		{Name: "the slots exhausted and the dispatcher's connections cut", Fault: FaultPoolExhaustedCut},
		{Name: "the dispatcher process SIGKILLed and restarted", Fault: FaultSIGKILL},
	}
}

// ChaosResult is the outcome of one cell.
type ChaosResult struct {
	// Records is how many records were enqueued.
	Records int
	// Lost is how many of them the partner never received by the end.
	Lost int
	// Duplicated is how many records the partner received more than
	// once; Extra is how many deliveries beyond the first there were in
	// all.
	Duplicated, Extra int
	// Recover is from the end of the fault to the arrival at the partner
	// of the first delivered request sent after it; -1 if there was none.
	Recover time.Duration
	// Gap is the longest time without a delivered request arriving at
	// the partner, from the last one before the fault began to the first
	// after it ended.
	Gap time.Duration
	// Fault is how long the fault lasted (the restart, the hold, ...).
	Fault time.Duration
	// AllDelivered is from the end of the fault to the last delivered
	// request's arrival; -1 if some record was never delivered.
	AllDelivered time.Duration
	// Wall is from the dispatcher's start to the end of the run (every
	// record delivered and settled in the store, or the deadline).
	Wall time.Duration
	// Settled is how many records the queue holds as done at the end
	// (outbound: delivered; River: completed).
	Settled int64
	// States is how many records the queue holds in each state at the
	// end, by the queue's names for them.
	States map[string]int64
	// Note says what the fault did (backends terminated, slots taken).
	Note string
}

// Chaos is the chaos comparison's private PostgreSQL server, ready to run
// cells on.
type Chaos struct {
	cfg ChaosConfig
	pg  *privatePG
	exe string
}

// OpenChaos starts the private PostgreSQL server the cells run on. It
// returns an error if the PostgreSQL server binaries are not installed
// (naming the package to install), or the server cannot be set up. Close
// stops and removes the server.
func OpenChaos(ctx context.Context, cfg ChaosConfig) (*Chaos, error) {
	cfg = cfg.withDefaults()
	if cfg.Records < 3 || cfg.Workers < 1 || cfg.Latency < 0 || cfg.Hold <= 0 || cfg.Timeout <= 0 || cfg.MaxConnections < chaosReserved+cfg.Workers+8 {
		return nil, fmt.Errorf("bench: chaos: Records must be at least 3, Workers, Hold and Timeout positive, Latency not negative and MaxConnections at least %d", chaosReserved+cfg.Workers+8)
	}
	bin, err := FindPGBin(cfg.PGBin)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pg, err := startPrivatePG(ctx, bin, cfg.MaxConnections)
	if err != nil {
		return nil, err
	}
	return &Chaos{cfg: cfg, pg: pg, exe: exe}, nil
}

// Server returns the directory of the private server's binaries, e.g.
// "/usr/lib/postgresql/15/bin".
func (c *Chaos) Server() string { return c.pg.bin }

// Config returns the configuration the cells run with, defaults filled in.
func (c *Chaos) Config() ChaosConfig { return c.cfg }

// Close stops the private server and removes its data.
func (c *Chaos) Close() { c.pg.stop() }

// ChaosContender is a queue library in the chaos comparison.
type ChaosContender struct {
	// Name is the label of the contender's rows.
	Name string
	// Kind is "outbound" (outbound's PostgreSQL store and Dispatcher
	// with the HTTP deliverer) or "river" (River on riverpgxv5 with a
	// worker doing the same POST).
	Kind string
}

// ChaosContenders returns outbound and River.
func ChaosContenders() []ChaosContender {
	return []ChaosContender{{Name: "outbound", Kind: "outbound"}, {Name: "River", Kind: "river"}}
}

// chaosQueue is a contender's queue as the parent sees it.
type chaosQueue struct {
	keys     []string                                            // the Idempotency-Keys of the records
	settled  func(ctx context.Context) (int64, error)            // records held as done
	states   func(ctx context.Context) (map[string]int64, error) // records by state
	doneName string                                              // the state of a record held as done
}

// openChaosQueue creates the contender's queue in schema and enqueues
// records.
func openChaosQueue(ctx context.Context, kind string, pool *pgxpool.Pool, schema string, records int) (*chaosQueue, func() error, error) {
	switch kind {
	case "outbound":
		store, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
		if err != nil {
			return nil, nil, err
		}
		if err := store.Migrate(ctx); err != nil {
			return nil, store.Close, err
		}
		// IDs the store generates (the HTTP deliverer sends them as the
		// Idempotency-Key): the cheapest enqueue, no lookup of existing IDs.
		q := &chaosQueue{keys: make([]string, 0, records), doneName: delivery.StateDelivered.String()}
		for len(q.keys) < records {
			msgs := make([]delivery.Message, min(1000, records-len(q.keys)))
			for j := range msgs {
				msgs[j].Payload = jobPayload(len(q.keys) + j + 1)
			}
			got, err := store.Enqueue(ctx, msgs...)
			if err != nil {
				return nil, store.Close, err
			}
			for _, e := range got {
				q.keys = append(q.keys, e.Record.ID)
			}
		}
		// Counted exactly (Store.Stats estimates settled records past
		// 10,000), in the column the store keeps delivery.State in.
		q.states = func(ctx context.Context) (map[string]int64, error) {
			rows, err := pool.Query(ctx, "SELECT state, count(*) FROM "+pgx.Identifier{schema, postgres.DefaultTable}.Sanitize()+" GROUP BY state")
			if err != nil {
				return nil, err
			}
			out := map[string]int64{}
			var state int16
			var n int64
			_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
				out[delivery.State(state).String()] = n
				return nil
			})
			return out, err
		}
		q.settled = func(ctx context.Context) (int64, error) {
			st, err := q.states(ctx)
			return st[q.doneName], err
		}
		return q, store.Close, nil
	case "river":
		keys, err := openChaosRiver(ctx, pool, schema, records)
		if err != nil {
			return nil, nil, err
		}
		q := &chaosQueue{keys: keys, doneName: "completed"}
		q.states = func(ctx context.Context) (map[string]int64, error) { return riverStates(ctx, pool, schema) }
		q.settled = func(ctx context.Context) (int64, error) {
			st, err := q.states(ctx)
			return st["completed"], err
		}
		return q, nil, nil
	}
	return nil, nil, fmt.Errorf("bench: chaos: unknown contender kind %q", kind)
}

// Run runs one cell with contender on a fresh schema and returns what the
// partner and the queue saw. Records the partner never received are
// counted as lost, not returned as an error; Run returns an error if the
// cell cannot be set up, the fault cannot be injected, the dispatcher
// process exits with an error (its output is in the error), or ctx ends.
func (c *Chaos) Run(ctx context.Context, contender ChaosContender, cell ChaosCell) (res ChaosResult, err error) {
	cfg := c.cfg
	pool, err := pgxpool.New(ctx, c.pg.url(chaosRole, chaosDB)+"&application_name=outbound-chaos-parent&pool_max_conns=2")
	if err != nil {
		return res, err
	}
	defer pool.Close()
	schema := schemaName("chaos")
	q, closeQueue, err := openChaosQueue(ctx, contender.Kind, pool, schema, cfg.Records)
	defer func() {
		if closeQueue != nil {
			err = errors.Join(err, closeQueue())
		}
		err = errors.Join(err, dropSchema(context.WithoutCancel(ctx), pool, schema))
	}()
	if err != nil {
		return res, err
	}
	partner, err := startChaosPartner(cfg.Latency)
	if err != nil {
		return res, err
	}
	defer partner.close()

	env := append(os.Environ(),
		chaosChildEnv+"="+contender.Kind, chaosPGEnv+"="+c.pg.url(chaosRole, chaosDB), chaosSchemaEnv+"="+schema,
		chaosTargetEnv+"="+partner.url, chaosWorkersEnv+"="+strconv.Itoa(cfg.Workers))
	start := time.Now()
	deadline := start.Add(cfg.Timeout)
	child, err := startChaosProcess(c.exe, cfg.ChildArgs, env)
	if err != nil {
		return res, err
	}
	defer func() {
		if child != nil {
			child.kill()
		}
	}()

	// Wait for a third to be delivered.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for partner.distinct() < cfg.Records/3 {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-child.exited:
			return res, fmt.Errorf("before the fault: %w", child.exitErr())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("bench: chaos: %d of %d records delivered in %v, before the fault", partner.distinct(), cfg.Records, cfg.Timeout)
		}
	}

	faultStart := time.Now()
	switch cell.Fault {
	case FaultPGRestart:
		err = c.pg.ctl(ctx, "restart")
		res.Note = "pg_ctl restart -m fast"
	case FaultTerminate:
		var n1, n2 int64
		if n1, err = c.terminate(ctx); err == nil {
			time.Sleep(time.Second)
			n2, err = c.terminate(ctx)
		}
		res.Note = fmt.Sprintf("%d, then %d backends terminated", n1, n2)
	case FaultPoolExhausted, FaultPoolExhaustedCut:
		res.Note, err = c.exhaust(ctx, cfg.Hold, cell.Fault == FaultPoolExhaustedCut)
	case FaultSIGKILL:
		child.kill()
		if err = child.exitErrUnlessKilled(); err == nil {
			child, err = startChaosProcess(c.exe, cfg.ChildArgs, env)
		}
		res.Note = fmt.Sprintf("a new process started at once; lease %v", ChaosLease)
	default:
		err = fmt.Errorf("bench: chaos: unknown fault %q", cell.Fault)
	}
	if err != nil {
		return res, err
	}
	faultEnd := time.Now()
	res.Fault = faultEnd.Sub(faultStart)

	// Wait for every record to be delivered and settled.
	for {
		if partner.distinct() >= cfg.Records {
			if n, err := q.settled(ctx); err == nil && n >= int64(cfg.Records) {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-child.exited:
			return res, fmt.Errorf("after the fault: %w", child.exitErr())
		case <-time.After(100 * time.Millisecond):
		}
	}
	end := time.Now()
	stopErr := child.stop(15 * time.Second)
	child = nil
	if stopErr != nil {
		return res, stopErr
	}
	res.Wall = end.Sub(start)
	if res.States, err = q.states(ctx); err != nil {
		return res, err
	}
	res.Settled = res.States[q.doneName]
	counts, times := partner.snapshot()
	res.Records = cfg.Records
	for _, id := range q.keys {
		switch n := counts[id]; {
		case n == 0:
			res.Lost++
		case n > 1:
			res.Duplicated++
			res.Extra += n - 1
		}
	}
	res.Recover, res.Gap, res.AllDelivered = deliveryGaps(times, faultStart, faultEnd)
	if res.Lost > 0 {
		res.AllDelivered = -1
	}
	return res, nil
}

// deliveryGaps returns, from the arrival times of the partner's delivered
// requests, the time from faultEnd to the first arrival after it (-1 if
// none), the longest time without an arrival from the last one before
// faultStart to that first one, and the time from faultEnd to the last
// arrival (the queue drained; -1 if none came after faultEnd).
func deliveryGaps(times []time.Time, faultStart, faultEnd time.Time) (toFirst, gap, drained time.Duration) {
	times = slices.Clone(times)
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	first := slices.IndexFunc(times, func(t time.Time) bool { return !t.Before(faultEnd) })
	if first < 0 {
		return -1, 0, -1
	}
	prev, k := faultStart, slices.IndexFunc(times, func(t time.Time) bool { return !t.Before(faultStart) })
	if k > 0 {
		prev = times[k-1]
	}
	for ; k <= first; k++ {
		gap = max(gap, times[k].Sub(prev))
		prev = times[k]
	}
	return times[first].Sub(faultEnd), gap, times[len(times)-1].Sub(faultEnd)
}

// terminate ends every backend of the dispatcher's connections from a
// superuser connection and returns how many it ended.
func (c *Chaos) terminate(ctx context.Context) (int64, error) {
	conn, err := pgx.Connect(ctx, c.pg.url("postgres", "postgres"))
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`, chaosDB, chaosAppName).Scan(&n)
	return n, err
}

// exhaust opens connections as an ordinary role until the server refuses
// one (every slot but the superuser-reserved ones taken), terminates the
// dispatcher's backends if cut, holds the slots for hold, closes them,
// and says what it did.
func (c *Chaos) exhaust(ctx context.Context, hold time.Duration, cut bool) (string, error) {
	var conns []*pgx.Conn
	defer func() {
		for _, conn := range conns {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	var refusal error
	for len(conns) < c.cfg.MaxConnections {
		conn, err := pgx.Connect(ctx, c.pg.url(chaosRole, chaosDB)+"&application_name=outbound-chaos-hog")
		if err != nil {
			refusal = err
			break
		}
		conns = append(conns, conn)
	}
	if refusal == nil {
		return "", fmt.Errorf("bench: chaos: the server accepted %d connections from an ordinary role: max_connections is not what was configured", len(conns))
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	note := fmt.Sprintf("%d free slots of %d taken for %v", len(conns), c.cfg.MaxConnections, hold)
	if cut {
		n, err := c.terminate(ctx)
		if err != nil {
			return "", err
		}
		// A slot a terminated backend frees goes to whoever asks first:
		// keep taking them, so the dispatcher finds none.
		taken := len(conns)
		grab := time.Now().Add(hold)
		for time.Now().Before(grab) {
			conn, err := pgx.Connect(ctx, c.pg.url(chaosRole, chaosDB)+"&application_name=outbound-chaos-hog")
			if err == nil {
				conns = append(conns, conn)
				continue
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
		}
		return fmt.Sprintf("%d free slots of %d taken for %v; %d backends of the dispatcher terminated, %d of the slots they freed taken too", taken, c.cfg.MaxConnections, hold, n, len(conns)-taken), nil
	}
	select {
	case <-time.After(hold):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return note, nil
}
