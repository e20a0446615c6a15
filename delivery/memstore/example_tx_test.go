package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// payOrder is a handler's transactional step: in tx it marks the order
// paid and enqueues the notice to the billing partner, so both commit or
// neither does. It depends on delivery.TxEnqueuer, not on a store:
// production passes a pgx.Tx and the *postgres.Store (or a *sql.Tx and
// delivery.TxEnqueuerFunc[*sql.Tx](store.EnqueueSQLTx)), tests a memstore
// test transaction and its Store.
func payOrder[Tx any](ctx context.Context, tx Tx, orders func(context.Context, Tx, string) error, outbox delivery.TxEnqueuer[Tx], orderID string) error {
	if err := orders(ctx, tx, orderID); err != nil {
		return err
	}
	_, err := outbox.EnqueueTx(ctx, tx, delivery.Message{
		Key: orderID, Destination: "billing", Payload: []byte(`{"order":"` + orderID + `","state":"paid"}`),
	})
	return err
}

// A handler's transactional path tested without a database: a rolled-back
// transaction enqueues nothing, a committed one enqueues the notice.
func ExampleStore_Begin() {
	ctx := context.Background()
	store := memstore.New(memstore.Config{})
	markPaid := func(_ context.Context, _ *memstore.Tx, id string) error {
		if id == "o-unknown" {
			return errors.New("no such order")
		}
		return nil
	}
	run := func(orderID string) {
		tx := store.Begin()
		if err := payOrder(ctx, tx, markPaid, store, orderID); err != nil {
			_ = tx.Rollback()
			fmt.Println(orderID, "rolled back:", err)
			return
		}
		if err := tx.Commit(); err != nil {
			fmt.Println(orderID, "commit:", err)
			return
		}
		fmt.Println(orderID, "committed")
	}

	run("o-unknown")
	page, _ := store.List(ctx, delivery.ListOptions{})
	fmt.Println("records after the rollback:", len(page.Records))

	run("o-1")
	page, _ = store.List(ctx, delivery.ListOptions{})
	fmt.Println("records after the commit:", len(page.Records), page.Records[0].Destination, page.Records[0].Key)
	// Output:
	// o-unknown rolled back: no such order
	// records after the rollback: 0
	// o-1 committed
	// records after the commit: 1 billing o-1
}
