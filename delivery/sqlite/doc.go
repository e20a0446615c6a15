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
// *sql.DB itself (driver "sqlite", or ncruces' "sqlite3": see The driver;
// a DSN with _txlock=immediate and a busy_timeout pragma) and hands it to
// OpenDB; EnqueueSQLTx then writes the
// records in the application's transaction, so they exist if and only if
// its own writes commit. The store never begins, commits or rolls back
// that transaction. It cannot see the commit, so dispatchers find those
// records at their next poll (DispatcherConfig.PollInterval) rather than
// through Notify; a rolled-back transaction wakes nobody.
//
// # The driver
//
// Open uses modernc.org/sqlite (v1.62), SQLite's C translated to Go. The
// other pure-Go driver, github.com/ncruces/go-sqlite3 (v0.37, SQLite
// compiled to Wasm and translated to Go; it no longer uses wazero), runs
// the same store code through OpenDB and passes the same conformance
// suite; module internal/sqlitedriver holds both checks and
// BenchmarkDrivers, this package's store benchmark on OpenDB with either
// driver, the same DSN (a file: URI, WAL, synchronous=FULL, immediate
// transactions, a busy timeout of 5s), the drivers back to back in one
// run. Two runs on a shared 2-CPU machine under load averages of 15 and
// 10 (medians of three and of five runs of each benchmark; ncruces'
// records/s over modernc's):
//
//	enqueue, 1 record a call       0.89× (1789 / 2007)   1.33× (1716 / 1290)
//	enqueue, batches of 100        1.08× (9056 / 8412)   0.71× (4937 / 6957)
//	claim+complete, 1 worker       0.86× (634 / 737)     0.83× (610 / 732)
//	claim+complete, 16 workers     0.89× (690 / 771)     0.54× (489 / 903)
//
// Single runs of either moved by ±30% and more. Enqueueing, where each
// call waits for its fsync (synchronous=FULL), shows no winner; claiming
// and completing, the dispatcher's path, was slower on ncruces in every
// cell, though its allocations are fewer (7,000 against 10,300 a batch of
// 100). Modernc stays the driver of Open because the figures give no
// reason to switch and:
//
//   - it runs SQLite's own Unix VFS, the file locking of every other
//     SQLite program on the host (the sqlite3 shell, backup tools);
//     ncruces replaces the VFS with a Go one (OFD locks), which its
//     README calls not as battle tested as the original;
//   - ncruces adds 3.3 MB to a binary that opens a database (13.3 MB
//     against 10.0 MB; 1.1 MB stripped);
//   - ncruces is before v1 and changes underneath (v0.37 replaced its
//     Wasm runtime and deprecated its embed package); modernc's API has
//     been stable at v1.
//
// An application already on ncruces keeps its driver: it opens the file
// with a file: URI DSN (ncruces reads _txlock and _pragma only from one),
// such as "file:app.db?_txlock=immediate&_pragma=busy_timeout(5000)", and
// hands the *sql.DB to OpenDB. Processes on different drivers may share a
// file, but one process must not open the same file through both: in one
// process SQLite's Unix VFS (POSIX locks, which belong to the process) and
// ncruces' (OFD locks, which belong to a file descriptor) do not
// coordinate, and the second to open the file can fail with
// SQLITE_PROTOCOL ("locking protocol"), as it did in our tests.
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
