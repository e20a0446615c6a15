package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/outbound-go/outbound/internal/saturate"
)

// Notify implements delivery.Notifier. The first call starts a listener: a
// dedicated connection (outside the pool, so it never takes a pool slot)
// that LISTENs on the outbox's channel, which the insert trigger notifies
// when an enqueue commits. Settling records never notifies. The channel is
// shared and coalescing: one receive may stand for many inserts.
//
// When the listening connection fails, the listener reconnects by itself
// with exponential backoff (100ms up to Config.MaxReconnectDelay), and
// until it is back it signals the channel every Config.PollInterval, so
// dispatchers fall back to polling; it also signals once after each
// (re)connect, for inserts it may have missed. The connection is made from
// the pool's ConnConfig with the pool's BeforeConnect and AfterConnect
// hooks. Close stops the listener.
func (s *Store) Notify() <-chan struct{} {
	s.listenOnce.Do(func() {
		pc := s.pool.Config()
		s.startListener(pc.ConnConfig, pc.BeforeConnect, pc.AfterConnect)
	})
	return s.notify
}

// startListener starts the listener goroutine on connections made from
// conf, with the pool's connect hooks (which may, say, fetch a fresh
// password). Callers hold s.listenOnce.
func (s *Store) startListener(conf *pgx.ConnConfig, before func(context.Context, *pgx.ConnConfig) error, after func(context.Context, *pgx.Conn) error) {
	l := &listener{s: s, conf: conf, before: before, after: after, done: make(chan struct{})}
	var ctx context.Context
	ctx, l.cancel = context.WithCancel(context.Background())
	s.listener = l
	go l.run(ctx)
}

// listener owns the LISTEN connection.
type listener struct {
	s      *Store
	conf   *pgx.ConnConfig
	before func(context.Context, *pgx.ConnConfig) error
	after  func(context.Context, *pgx.Conn) error
	cancel context.CancelFunc
	done   chan struct{}

	pid      atomic.Uint32 // backend pid of the live connection, 0 when down
	connects atomic.Int64  // successful (re)connects, for tests
	stopOnce sync.Once
}

func (l *listener) stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		<-l.done
	})
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	const minDelay = 100 * time.Millisecond
	delay := minDelay
	for {
		connected := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			delay = minDelay
		}
		// Down: poll until the next attempt.
		l.s.signal()
		if !l.pollFor(ctx, delay) {
			return
		}
		delay = nextReconnectDelay(delay, l.s.cfg.MaxReconnectDelay)
	}
}

// nextReconnectDelay doubles delay up to maxDelay, saturating: doubling
// towards a MaxReconnectDelay near the largest Duration must not wrap to a
// negative wait that reconnects in a tight loop.
func nextReconnectDelay(delay, maxDelay time.Duration) time.Duration {
	return min(saturate.Add(delay, delay), maxDelay)
}

// pollFor signals every PollInterval for d, and reports false if ctx ended.
func (l *listener) pollFor(ctx context.Context, d time.Duration) bool {
	wait := time.NewTimer(d)
	defer wait.Stop()
	tick := time.NewTicker(l.s.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-wait.C:
			return true
		case <-tick.C:
			l.s.signal()
		}
	}
}

// listen connects, LISTENs and forwards notifications until the connection
// fails or ctx ends. It reports whether LISTEN succeeded.
func (l *listener) listen(ctx context.Context) bool {
	conf := l.conf.Copy()
	if l.before != nil {
		if err := l.before(ctx, conf); err != nil {
			return false
		}
	}
	conn, err := pgx.ConnectConfig(ctx, conf)
	if err != nil {
		return false
	}
	defer func() {
		l.pid.Store(0)
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if l.after != nil {
		if err := l.after(ctx, conn); err != nil {
			return false
		}
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.s.n.Channel}.Sanitize()); err != nil {
		return false
	}
	l.pid.Store(conn.PgConn().PID())
	l.connects.Add(1)
	l.s.signal() // inserts may have committed while nobody listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true
		}
		l.s.signal()
	}
}
