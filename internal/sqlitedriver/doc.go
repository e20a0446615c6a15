// Package sqlitedriver runs outbound's SQLite store on both pure-Go SQLite
// drivers, modernc.org/sqlite (the one package delivery/sqlite imports)
// and github.com/ncruces/go-sqlite3, so that the choice between them rests
// on figures. It is a module of its own so that the second driver never
// enters delivery/sqlite's go.mod; it has no code of its own, only tests:
//
//   - the conformance suite (storetest.Run, RunShared, RunHistoryBounds,
//     RunTx) on a Store that sqlite.OpenDB makes on a *sql.DB of the
//     ncruces driver;
//   - two processes, one on each driver, working one file at once;
//   - BenchmarkDrivers, the store benchmark (enqueue in batches of 1 and
//     100, claim+complete with 1 and 16 workers) on sqlite.Open and on
//     sqlite.OpenDB with each driver, run back to back.
//
// Run the benchmark with
//
//	cd internal/sqlitedriver && go test -run XXX -bench . -count 3
//
// The figures and the reason for the choice are in delivery/sqlite's
// package documentation and in the README ("Choosing a store").
package sqlitedriver
