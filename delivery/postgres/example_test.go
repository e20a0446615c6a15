package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// New validates names before any SQL sees them; it does not connect.
func ExampleNew() {
	// pgxpool.New connects lazily: nothing is dialled here.
	pool, err := pgxpool.New(context.Background(), "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		panic(err)
	}
	defer pool.Close()

	store, err := postgres.New(postgres.Config{Pool: pool, Schema: "billing", Table: "partner_outbox"})
	fmt.Println(store.Name(), err)

	_, err = postgres.New(postgres.Config{Pool: pool, Table: `outbox"; DROP TABLE orders; --`})
	fmt.Println(errors.Is(err, postgres.ErrConfig))
	// Output:
	// billing.partner_outbox <nil>
	// true
}

// The transactional outbox: the record is written by the caller's
// transaction, so it exists if and only if the business change committed.
func ExampleStore_EnqueueTx() {
	ctx := context.Background()
	pool, _ := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/app")
	store, _ := postgres.New(postgres.Config{Pool: pool})
	_ = store.Migrate(ctx) // at boot, on every instance

	tx, err := pool.Begin(ctx)
	if err != nil {
		return
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `UPDATE candidates SET state = 'hired' WHERE id = $1`, "cand-42"); err != nil {
		return
	}
	if _, err := store.EnqueueTx(ctx, tx, delivery.Message{
		Key:            "cand-42", // delivered in order with the candidate's other records
		IdempotencyKey: "cand-42/hired",
		Payload:        []byte(`{"candidate":"cand-42","state":"hired"}`),
	}); err != nil {
		return
	}
	_ = tx.Commit(ctx) // dispatchers listening on the store wake up now
}

// The transactional outbox from database/sql: with pgx's stdlib driver
// (sql.Open("pgx", url), import _ "github.com/jackc/pgx/v5/stdlib") or
// lib/pq (sql.Open("postgres", url), import _ "github.com/lib/pq"). The
// store never begins, commits or rolls back the transaction.
func ExampleStore_EnqueueSQLTx() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		return
	}
	defer func() { _ = db.Close() }()
	pool, _ := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/app") // the dispatchers' pool
	store, _ := postgres.New(postgres.Config{Pool: pool})

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return
	}
	defer func() { _ = tx.Rollback() }() // a rolled-back transaction enqueues nothing and wakes nobody
	if _, err := tx.ExecContext(ctx, `UPDATE candidates SET state = 'hired' WHERE id = $1`, "cand-42"); err != nil {
		return
	}
	if _, err := store.EnqueueSQLTx(ctx, tx, delivery.Message{
		Key:     "cand-42",
		Payload: []byte(`{"candidate":"cand-42","state":"hired"}`),
	}); err != nil {
		return
	}
	_ = tx.Commit()

	// A handler that depends on the seam rather than the store takes
	// delivery.TxEnqueuer[*sql.Tx]; its tests pass a memstore.Store and
	// its test transactions (see memstore's Store.Begin).
	var outbox delivery.TxEnqueuer[*sql.Tx] = delivery.TxEnqueuerFunc[*sql.Tx](store.EnqueueSQLTx)
	_ = outbox
}

// A Retention purges delivered and discarded records older than MaxAge in
// bounded batches; here one round, on an in-memory store.
func ExampleRetention_PurgeOnce() {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := memstore.New(memstore.Config{Now: func() time.Time { return now }})
	_, _ = store.Enqueue(ctx, delivery.Message{ID: "a", Payload: []byte("1")}, delivery.Message{ID: "b", Payload: []byte("2")})
	recs, _ := store.Claim(ctx, 10, time.Minute)
	_ = store.Complete(ctx, recs[0].Lease(), delivery.Attempt{Class: classify.ClassOK}, false)
	_ = store.DeadLetter(ctx, recs[1].Lease(), delivery.Attempt{Class: classify.ClassPermanent})
	now = now.Add(8 * 24 * time.Hour)

	r, _ := postgres.NewRetention(postgres.RetentionConfig{
		Store: store, MaxAge: 7 * 24 * time.Hour, BatchSize: 500,
		Now: func() time.Time { return now },
	})
	n, err := r.PurgeOnce(ctx)
	fmt.Println(n, err)
	// Output:
	// 1 <nil>
}

// The GRANTs for a runtime role, and the channel a process may LISTEN on,
// for the default outbox.
func ExampleGrantSQL() {
	grants, err := postgres.GrantSQL("", "", "app")
	if err != nil {
		panic(err)
	}
	fmt.Print(grants)
	channel, _ := postgres.NotifyChannel("", "")
	fmt.Println(channel)
	// Output:
	// GRANT USAGE ON SCHEMA "outbound" TO "app";
	// GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE "outbound"."outbox", "outbound"."outbox_keys", "outbound"."outbox_destinations" TO "app";
	// GRANT SELECT ON TABLE "outbound"."outbox_migrations" TO "app";
	// GRANT USAGE ON SEQUENCE "outbound"."outbox_seq" TO "app";
	// outbound_8367996ad0760b69cca7e8d3
}
