package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/testenv"
)

// internalStore returns a migrated store in a fresh schema, for tests that
// look at the listener's insides.
func internalStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	schema := testenv.UniqueName(t, "ob")
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
		require.NoError(t, err)
	})
	cfg.Pool, cfg.Schema = pool, schema
	s, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Migrate(ctx))
	return s
}

func receive(t *testing.T, ch <-chan struct{}, within time.Duration) bool {
	t.Helper()
	select {
	case <-ch:
		return true
	case <-time.After(within):
		return false
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// The listening connection is killed by the server: the listener
// reconnects by itself and inserts wake the dispatcher again.
func TestListenerReconnects(t *testing.T) {
	ctx := context.Background()
	s := internalStore(t, Config{})
	ch := s.Notify()
	l := s.listener
	require.Eventually(t, func() bool { return l.pid.Load() != 0 }, 10*time.Second, 10*time.Millisecond)
	old := l.pid.Load()

	var killed bool
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(old)).Scan(&killed))
	require.True(t, killed)
	require.Eventually(t, func() bool { p := l.pid.Load(); return p != 0 && p != old }, 10*time.Second, 10*time.Millisecond,
		"the listener reconnects")
	require.GreaterOrEqual(t, l.connects.Load(), int64(2))

	drain(ch)
	_, err := s.Enqueue(ctx, delivery.Message{Payload: []byte("after reconnect")})
	require.NoError(t, err)
	require.True(t, receive(t, ch, 10*time.Second), "an insert after the reconnect signals")

	require.NoError(t, s.Close())
	require.Zero(t, l.pid.Load(), "Close closes the listening connection")
}

// While the server cannot be reached, Notify falls back to polling: it is
// signalled every PollInterval without any insert.
func TestListenerFallsBackToPolling(t *testing.T) {
	s := internalStore(t, Config{PollInterval: 20 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond})
	conf := s.pool.Config().ConnConfig
	conf.Port = 1 // nothing listens there
	conf.ConnectTimeout = 200 * time.Millisecond
	s.listenOnce.Do(func() { s.startListener(conf, nil, nil) })
	for i := range 5 {
		require.True(t, receive(t, s.notify, 5*time.Second), "poll signal %d", i)
	}
	require.Zero(t, s.listener.connects.Load())
	require.NoError(t, s.Close())
}

// A store closed before Notify never starts a listener.
func TestNotifyAfterClose(t *testing.T) {
	s := internalStore(t, Config{})
	require.NoError(t, s.Close())
	ch := s.Notify()
	require.NotNil(t, ch)
	require.Nil(t, s.listener)
	require.NoError(t, s.Close(), "Close is idempotent")
}
