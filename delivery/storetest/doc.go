// Package storetest is the conformance suite for delivery.Store
// implementations. Every store in this module passes it, and users run it
// against their own stores:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
//			return mystore.New(mystore.Config{Now: now, DB: freshDatabase(t)})
//		})
//	}
//
// The factory must return an empty store that reads time only from now, so
// the suite can move time forward to expire leases and make retries due
// without sleeping. Each subtest gets its own store.
//
// A store with a transactional enqueue (a delivery.TxEnqueuer) also runs
// RunTx, giving its transactions' Begin, Commit and Rollback:
//
//	storetest.RunTx(t, func(t *testing.T, now func() time.Time) storetest.TxStore[*sql.Tx] {
//		s := mystore.New(mystore.Config{Now: now, DB: db})
//		return storetest.TxStore[*sql.Tx]{
//			Store: s, Enqueuer: delivery.TxEnqueuerFunc[*sql.Tx](s.EnqueueSQLTx),
//			Begin:    func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
//			Commit:   (*sql.Tx).Commit,
//			Rollback: (*sql.Tx).Rollback,
//		}
//	})
package storetest
