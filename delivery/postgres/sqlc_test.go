package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/testenv"
)

// The code below has the shape sqlc generates for database/sql (a DBTX
// interface, Queries with WithTx): the README's sqlc snippet runs against
// it.

// DBTX is what sqlc's generated queries run on: a *sql.DB or a *sql.Tx.
type DBTX interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries is sqlc's generated query type.
type Queries struct {
	db     DBTX
	orders string // the test schema's orders table
}

// WithTx returns the queries bound to tx, as sqlc generates it.
func (q *Queries) WithTx(tx *sql.Tx) *Queries { return &Queries{db: tx, orders: q.orders} }

// MarkOrderPaid is a generated :exec query.
func (q *Queries) MarkOrderPaid(ctx context.Context, id string) error {
	_, err := q.db.ExecContext(ctx, `UPDATE `+q.orders+` SET state = 'paid' WHERE id = $1`, id)
	return err
}

// OrderState is a generated :one query.
func (q *Queries) OrderState(ctx context.Context, id string) (string, error) {
	var state string
	err := q.db.QueryRowContext(ctx, `SELECT state FROM `+q.orders+` WHERE id = $1`, id).Scan(&state)
	return state, err
}

// A sqlc query and EnqueueSQLTx in one transaction, with both drivers:
// committed, the order is paid and the record is there (and delivered);
// rolled back, neither happened.
func TestSQLCQueriesShareTheTransaction(t *testing.T) {
	ctx := context.Background()
	for _, driver := range sqlDrivers {
		t.Run(driver, func(t *testing.T) {
			store, pool := newStore(t, nil)
			schema := schemaOf(t, store)
			orders := quote(schema) + ".orders"
			_, err := pool.Exec(ctx, `CREATE TABLE `+orders+` (id text PRIMARY KEY, state text NOT NULL);
INSERT INTO `+orders+` VALUES ('o-1', 'open'), ('o-2', 'open')`)
			require.NoError(t, err)
			db := openSQL(t, driver, testenv.PostgresURL(t))
			queries := &Queries{db: db, orders: orders}

			// The handler: the business change and its outbox record, one transaction.
			pay := func(id string, commit bool) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback() }() // a no-op after Commit
				if err := queries.WithTx(tx).MarkOrderPaid(ctx, id); err != nil {
					return err
				}
				if _, err := store.EnqueueSQLTx(ctx, tx, delivery.Message{ID: "paid-" + id, Key: id, Payload: []byte(`{"order":"` + id + `"}`)}); err != nil {
					return err
				}
				if !commit {
					return tx.Rollback()
				}
				return tx.Commit()
			}

			require.NoError(t, pay("o-1", false))
			state, err := queries.OrderState(ctx, "o-1")
			require.NoError(t, err)
			assert.Equal(t, "open", state, "rolled back: the order is unchanged")
			_, err = store.Get(ctx, "paid-o-1")
			assert.True(t, errors.Is(err, delivery.ErrNotFound), "rolled back: no record (%v)", err)

			require.NoError(t, pay("o-2", true))
			state, err = queries.OrderState(ctx, "o-2")
			require.NoError(t, err)
			assert.Equal(t, "paid", state, "committed: the order is paid")
			r, err := store.Get(ctx, "paid-o-2")
			require.NoError(t, err, "committed: the record exists")
			assert.Equal(t, delivery.StatePending, r.State)
			deliverAll(t, store, "paid-o-2")
		})
	}
}
