// Package memstore is an in-memory delivery.Store: the embedded default for
// tests, examples and single-process services that can afford to lose the
// backlog on restart.
//
//	store := memstore.New(memstore.Config{})
//	_, err := store.Enqueue(ctx, delivery.Message{Key: "order-7", Payload: body})
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send})
//
// It passes the conformance suite in package storetest. All operations are
// guarded by one mutex that is never held while user code runs; claiming is
// O(k log n) for k records from a backlog of n (heaps ordered by due time
// and by lease expiry, with one queue per ordering key). List, Stats,
// RedriveMatching and Purge scan the records and are O(n). Records are not
// persisted: a process restart loses them. It keeps only each record's
// latest attempt.
package memstore
