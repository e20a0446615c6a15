package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest/killtest"
	"github.com/outbound-go/outbound/internal/testenv"
)

// The kill test's child opens the outbox in the schema named by this
// variable, with connections named childAppName.
const (
	childSchemaEnv = "OUTBOUND_POSTGRES_KILL_SCHEMA"
	childAppName   = "outbound-kill-child"
)

// childTiming: on a loaded machine (or under -race) a settle can take
// over a second, and one that times out leaves a delivered record to be
// delivered again, a duplicate no kill explains; so the store timeout is
// generous, and the lease twice what the dispatcher requires (2 × 1s
// attempt + 2s store timeout).
var childTiming = killtest.Timing{Lease: 8 * time.Second, StoreTimeout: 2 * time.Second}

// A dispatcher process is SIGKILLed several times mid-drain and restarted:
// nothing is lost, and the duplicates stay within the records in flight
// at the kills (package killtest).
func TestKilledDispatcherLosesNothing(t *testing.T) {
	store, pool := newStore(t, nil)
	res := killtest.Run(t, killtest.Config{
		Store: store, Records: 4000, Kills: 4,
		ChildEnv:  []string{childSchemaEnv + "=" + schemaOf(t, store)},
		AfterKill: func(t *testing.T) { childSessionsGone(t, pool) },
	})
	t.Logf("PostgreSQL: %.2f duplicates per kill", res.DuplicatesPerKill())
}

// childSessionsGone waits until the server has ended every session of the
// killed child, so that no settle of its can still commit.
func childSessionsGone(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sessions int
		require.NoError(t, pool.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, childAppName).Scan(&sessions))
		if sessions == 0 {
			return
		}
		require.True(t, time.Now().Before(deadline), "the killed child's sessions did not end")
		time.Sleep(10 * time.Millisecond) // waiting for the server, not timing it
	}
}

// openChildStore opens, in the child, the outbox in the schema the parent
// named, on a pool whose sessions the parent can recognise.
func openChildStore(ctx context.Context) (delivery.Store, func() error, error) {
	conf, err := pgxpool.ParseConfig(os.Getenv(testenv.PostgresEnv))
	if err != nil {
		return nil, nil, err
	}
	conf.ConnConfig.RuntimeParams["application_name"] = childAppName
	pool, err := pgxpool.NewWithConfig(ctx, conf)
	if err != nil {
		return nil, nil, err
	}
	store, err := postgres.New(postgres.Config{Pool: pool, Schema: os.Getenv(childSchemaEnv)})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return store, func() error {
		err := store.Close()
		pool.Close()
		return err
	}, nil
}
