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
package storetest
