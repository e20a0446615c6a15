// Package sqlite is a delivery.Store in one SQLite file: a durable outbox
// for a service that runs on one host, without a database server, built on
// the pure-Go driver modernc.org/sqlite, so that go build needs no C
// toolchain.
//
//	store, err := sqlite.Open(ctx, sqlite.Config{Path: "/var/lib/app/outbox.db"})
//	if err != nil {
//		return err // a missing directory, a read-only or foreign file, a newer schema
//	}
//	defer store.Close()
//
//	_, err = store.Enqueue(ctx, delivery.Message{Key: "cand-42", Payload: body})
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send})
//
// It passes the conformance suite in package storetest.
//
// # Durability and sharing
//
// The file is in WAL mode with synchronous=FULL: a record is on disk once
// Enqueue returns, and survives the process being killed. Every write,
// claims included, runs in a BEGIN IMMEDIATE transaction that waits up to
// Config.BusyTimeout for the write lock, so several Stores on one file
// (a deploy overlapping the old and the new process) take turns: a lease
// held through one is respected by the others, and a destination's
// MaxInFlight counts the leases of all of them. Processes sharing a file
// must read the same clock (Config.Now), which processes on one host do.
// Use the PostgreSQL store for several hosts; a SQLite file on a network
// file system is not supported.
//
// Each Store uses one connection, so its own calls run one at a time; the
// per-call work is small (a claim is one transaction with a few indexed
// queries), and the round robin across destinations is done in Go inside
// the claim's transaction.
//
// Notify wakes on the inserts, redrives, retries and resumes made through
// the same Store (in process); records another process inserts are found
// when the dispatcher polls.
//
// # Enqueue in your transaction
//
// An application that keeps its own tables in the same file opens its
// *sql.DB itself (driver "sqlite", a DSN with _txlock=immediate and a
// busy_timeout pragma) and hands it to OpenDB; EnqueueSQLTx then writes the
// records in the application's transaction, so they exist if and only if
// its own writes commit. The store never begins, commits or rolls back
// that transaction. It cannot see the commit, so dispatchers find those
// records at their next poll (DispatcherConfig.PollInterval) rather than
// through Notify; a rolled-back transaction wakes nobody.
//
// # Schema
//
// Open creates its tables (outbox_records, outbox_destinations,
// outbox_counters, all prefixed so that they can live in a file the
// application also uses) and records the schema version (SchemaVersion) in
// table outbox_schema_version. A file written by a newer
// version of this package is refused with ErrNewerSchema and left as it
// is; a file that is not a SQLite database, or is read-only, is an error
// too, never replaced by an empty outbox. Times are stored as unix
// nanoseconds. Version 2 adds the enqueuing request's trace context
// (delivery.Message.TraceParent and TraceState), version 3 each
// destination's fleet-wide rate limit (rate, burst and its GCRA state), and
// version 4 each record's attempt history (delivery.Record.History, a JSON
// array), appended and trimmed to Config.History by the UPDATE that
// settles each attempt.
package sqlite
