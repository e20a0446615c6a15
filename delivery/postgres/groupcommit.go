package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Group commit of settles.
//
// Every settle (Complete, DeadLetter, Discard, Reschedule, Release) goes
// through a per-Store leader/follower queue. A caller that finds no flush
// in progress becomes the leader and flushes its own settle at once, so a
// lone caller waits for nobody. Callers that arrive while a flush is in
// flight queue up; when it ends, one goroutine (started by the leader,
// ending as soon as the queue is empty: nothing to Close) flushes what has
// queued, up to maxFlush settles at a time, until the queue is empty.
//
// A flush is one pgx.Batch: pipelined, one implicit transaction, one
// commit. It holds each reschedule and release exactly as a settle on its
// own sends it (one guarded UPDATE), and its terminal settles (Complete,
// DeadLetter, Discard) as one statement: the same guarded UPDATE over
// arrays of their values, then one promotion of the ended keys' next
// heads. Lease fencing and per-key promotion are unchanged, and each
// settle's (rows updated, id exists) gives its own ErrLeaseLost or
// ErrNotFound. Two statements for the lot, where each settle used to be
// two, cut what PostgreSQL spends executing a settle by over a quarter
// (pg_stat_statements: 60 µs a record, then 43) and raised cmd/compare's
// durable work at concurrency 16 by about a quarter.
// A flush with a single terminal settle, or one holding an id twice (a
// caller settling a lease again, or settling and releasing it, while its
// first settle waits), sends its settles one by one in queue order, as
// before.
//
// Any error aborts the whole transaction, so a flush that fails (a
// statement error, a deadlock, a lock wait of over 100ms, a broken
// connection) fails nobody: each of its callers then settles on its own,
// as if there were no batching, and gets that result. After a connection
// broke while the commit was under way the batch may have committed; the
// retry then answers ErrLeaseLost for a settle that did happen (the record
// is in the state the caller asked for).
//
// Settles of different records take different locks (a key has at most
// one record in flight), but a batch holds every lock it took until its
// commit. So a flush gives up any lock wait after 100ms
// (flushLockTimeout): a long caller transaction holding one key's row
// (EnqueueTx) then delays only that key's settle, which runs on its own,
// not every settle behind it; and in a lock cycle with another
// transaction the flush backs out well before PostgreSQL's deadlock
// detection (deadlock_timeout, 1s by default) could pick the other side as
// the victim.

const (
	// maxFlush bounds the settles in one flush, so one transaction's locks
	// and one batch's memory stay small.
	maxFlush = 128

	// flushLockTimeout opens every flush: it waits at most 100ms for any
	// one lock, then fails and its settles run on their own. Settles'
	// locks are normally free or held for a statement's time; this only
	// cuts waits behind long transactions. set_config(..., true) lasts
	// until the flush's transaction ends.
	flushLockTimeout = `SELECT set_config('lock_timeout', '100ms', true)`

	// noDeadlineWait is how long a flush may run for a caller whose
	// context has no deadline.
	noDeadlineWait = time.Minute
)

// settleReq is one settle: a guarded UPDATE that returns (rows updated,
// id exists), for a terminal settle followed by the promotion of its
// key's next head.
type settleReq struct {
	ctx    context.Context // the caller's: its deadline bounds a shared flush
	op, id string

	// A reschedule or release: its statement and parameters. A terminal
	// settle has term instead (settleTerminal, settleTerminalMany).
	sql  string
	args []any
	term *terminal

	n      int64
	exists bool

	// Written by the flusher before done is closed.
	err   error
	alone bool // the flush failed: settle on your own
	done  chan struct{}
}

// groupCommit is the queue of settles waiting for a flush.
type groupCommit struct {
	mu    sync.Mutex
	busy  bool // a flush is in progress; new settles queue up
	queue []*settleReq

	// Test hooks, set before use.
	flushes, flushed, failed    atomic.Int64 // flushes, settles in them, failed flushes
	manyStatements, manySettles atomic.Int64 // settleTerminalMany statements sent, terminal settles in them
	inject                      string       // a statement queued in the middle of every flush
	injectLast                  string       // a statement queued at the end of every flush
	beforeFlush                 func()       // called before a flush is sent
}

// settle runs r in the next flush and returns its result. A caller whose
// ctx ends while it waits for a flush returns ctx's error at once; if its
// settle was already being flushed it may still commit, like a settle
// whose context ends while its commit is in flight.
func (s *Store) settle(ctx context.Context, r *settleReq) error {
	r.ctx, r.done = ctx, make(chan struct{})
	g := &s.gc
	g.mu.Lock()
	if g.busy {
		g.queue = append(g.queue, r)
		g.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return fmt.Errorf("postgres: %s %q: %w", r.op, r.id, ctx.Err())
		}
	} else {
		g.busy = true
		g.mu.Unlock()
		// Alone in this flush: the caller's own context is the right one.
		s.flush(ctx, []*settleReq{r})
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.busy = false
		} else {
			go s.drain()
		}
		g.mu.Unlock()
	}
	if r.alone {
		return s.settleAlone(ctx, r)
	}
	return r.err
}

// drain flushes the queue until it is empty, then marks the store idle.
func (s *Store) drain() {
	for {
		batch := s.gc.take()
		if batch == nil {
			return
		}
		ctx, cancel := flushContext(batch)
		s.flush(ctx, batch)
		cancel()
	}
}

// take removes up to maxFlush settles from the queue, skipping those whose
// callers have gone (their contexts ended), or marks the store idle and
// returns nil if none is left.
func (g *groupCommit) take() []*settleReq {
	g.mu.Lock()
	defer g.mu.Unlock()
	var batch []*settleReq
	i := 0
	for ; i < len(g.queue) && len(batch) < maxFlush; i++ {
		if r := g.queue[i]; r.ctx.Err() == nil {
			batch = append(batch, r)
		}
	}
	clear(g.queue[:i])
	g.queue = g.queue[i:]
	if len(g.queue) == 0 {
		g.queue = nil // let the backing array go
	}
	if batch == nil {
		g.busy = false
	}
	return batch
}

// flushContext returns the context a shared flush runs under. One caller's
// cancellation must not cut short the settles of the others, so it is not
// cancelled with any of theirs; it ends at the latest of their deadlines
// (now plus noDeadlineWait for a caller without one), the longest any of
// them would have let its own settle run. A fixed timeout would either cut
// a patient caller short or, if long, keep a hung connection holding up
// every settle of the store long after all its callers gave up.
func flushContext(batch []*settleReq) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range batch {
		d, ok := r.ctx.Deadline()
		if !ok {
			d = time.Now().Add(noDeadlineWait)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
}

// flush sends batch as one pipelined transaction and hands each settle its
// result, or marks every one to settle alone if the transaction failed.
func (s *Store) flush(ctx context.Context, batch []*settleReq) {
	g := &s.gc
	if g.beforeFlush != nil {
		g.beforeFlush()
	}
	b := &pgx.Batch{}
	b.Queue(flushLockTimeout)
	many := terminals(batch)
	for i, r := range batch {
		if g.inject != "" && i == len(batch)/2 {
			b.Queue(g.inject)
		}
		if many == nil || r.term == nil {
			s.queueSettle(b, r)
		}
	}
	if many != nil {
		s.queueTerminals(b, many)
	}
	if g.injectLast != "" {
		b.Queue(g.injectLast)
	}
	g.flushes.Add(1)
	g.flushed.Add(int64(len(batch)))
	err := s.pool.SendBatch(ctx, b).Close()
	if err != nil {
		g.failed.Add(1)
	}
	for _, r := range batch {
		if err != nil {
			r.alone = true
		} else {
			r.err = settled(r.op, r.id, r.n, r.exists)
		}
		close(r.done)
	}
}

// settleAlone runs r in a transaction of its own, as a settle did before
// group commit.
func (s *Store) settleAlone(ctx context.Context, r *settleReq) error {
	b := &pgx.Batch{}
	s.queueSettle(b, r)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: %s %q: %w", r.op, r.id, err)
	}
	return settled(r.op, r.id, r.n, r.exists)
}

// terminals returns the terminal settles of batch (Complete, DeadLetter,
// Discard) when there are at least two and no id appears twice in batch,
// to be sent as one statement; else nil, and every settle is sent as its
// own, in queue order. One statement instead of two per settle cuts what
// PostgreSQL spends executing a settle by over a quarter. An id twice (a
// caller settling a lease again, or settling and releasing it, while the
// first waits) keeps queue order, so the first of them wins, as two lone
// settles would.
func terminals(batch []*settleReq) []*settleReq {
	var ts []*settleReq
	for _, r := range batch {
		if r.term != nil {
			ts = append(ts, r)
		}
	}
	if len(ts) < 2 {
		return nil
	}
	seen := make(map[string]struct{}, len(batch))
	for _, r := range batch {
		if _, dup := seen[r.id]; dup {
			return nil
		}
		seen[r.id] = struct{}{}
	}
	return ts
}

// queueTerminals queues the terminal settles rs on b as one
// settleTerminalMany, then the promotion of their keys' next heads as one
// promoteAfterMany, and hands each its (rows updated, id exists).
func (s *Store) queueTerminals(b *pgx.Batch, rs []*settleReq) {
	n := len(rs)
	ids, tokens := make([]string, n), make([]string, n)
	states, classes := make([]int16, n), make([]int16, n)
	started, nows := make([]*time.Time, n), make([]*time.Time, n)
	durations, statuses := make([]int64, n), make([]int32, n)
	errs, responses, attempts := make([]string, n), make([]string, n), make([]string, n)
	dups := make([]bool, n)
	for i, r := range rs {
		t := r.term
		ids[i], tokens[i], states[i], started[i], durations[i] = t.id, t.token, t.state, t.started, t.duration
		statuses[i], classes[i], errs[i], dups[i], nows[i] = t.status, t.class, t.errText, t.duplicate, t.now
		responses[i], attempts[i] = t.response, t.attempt
	}
	s.gc.manyStatements.Add(1)
	s.gc.manySettles.Add(int64(n))
	maxAttempts, maxBytes := s.historyBounds()
	b.Queue(s.q.settleTerminalMany, ids, tokens, states, started, durations, statuses, classes, errs, dups, nows,
		responses, attempts, maxAttempts, maxBytes).Query(func(rows pgx.Rows) error {
		i := 0
		for rows.Next() {
			if i == n {
				return fmt.Errorf("postgres: settle of %d records returned more rows", n)
			}
			var updated bool
			if err := rows.Scan(&updated, &rs[i].exists); err != nil {
				return err
			}
			rs[i].n = 0
			if updated {
				rs[i].n = 1
			}
			i++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if i != n {
			return fmt.Errorf("postgres: settle of %d records returned %d rows", n, i)
		}
		return nil
	})
	b.Queue(s.q.promoteAfterMany, ids)
}

// queueSettle queues r's statements on b.
func (s *Store) queueSettle(b *pgx.Batch, r *settleReq) {
	sql, args := r.sql, r.args
	if r.term != nil {
		sql, args = s.q.settleTerminal, r.term.args(s.historyBounds())
	}
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&r.n, &r.exists) })
	if r.term != nil {
		b.Queue(s.q.promoteAfter, r.id)
	}
}
