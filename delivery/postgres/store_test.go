package postgres_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest"
	"github.com/outbound-go/outbound/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		s, _ := newStore(t, now)
		return s
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, now func() time.Time) (delivery.Store, delivery.Store) {
		a, pool := newStore(t, now)
		schema, _, _ := strings.Cut(a.Name(), ".")
		b, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return a, b
	})
}

func TestHistoryBounds(t *testing.T) {
	storetest.RunHistoryBounds(t, func(t *testing.T, now func() time.Time, h delivery.History) delivery.Store {
		pool := newPool(t)
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: newSchema(t, pool), Now: now, History: h})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NoError(t, s.Migrate(context.Background()))
		return s
	})
}

// The transactional cases of the conformance suite, through pgx and
// through database/sql with both drivers.
func TestConformanceTx(t *testing.T) {
	t.Run("pgx", func(t *testing.T) {
		storetest.RunTx(t, func(t *testing.T, now func() time.Time) storetest.TxStore[pgx.Tx] {
			s, pool := newStore(t, now)
			return storetest.TxStore[pgx.Tx]{
				Store: s, Enqueuer: s,
				Begin:    pool.Begin,
				Commit:   func(tx pgx.Tx) error { return tx.Commit(context.Background()) },
				Rollback: func(tx pgx.Tx) error { return tx.Rollback(context.Background()) },
			}
		})
	})
	for _, driver := range sqlDrivers {
		t.Run(driver, func(t *testing.T) {
			storetest.RunTx(t, func(t *testing.T, now func() time.Time) storetest.TxStore[*sql.Tx] {
				s, _ := newStore(t, now)
				db := openSQL(t, driver, testenv.PostgresURL(t))
				return storetest.TxStore[*sql.Tx]{
					Store: s, Enqueuer: delivery.TxEnqueuerFunc[*sql.Tx](s.EnqueueSQLTx),
					Begin:    func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
					Commit:   (*sql.Tx).Commit,
					Rollback: (*sql.Tx).Rollback,
				}
			})
		})
	}
}
