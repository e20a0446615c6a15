// Package sqlite is a tokencache.Store in a SQLite file (the pure-Go
// driver modernc.org/sqlite, no C toolchain), so that the processes of one
// host share one token and mint it once between them, with no database
// server: the token cache's counterpart of the delivery/sqlite outbox, and
// it may live in the same file.
//
//	store, err := sqlite.Open(ctx, sqlite.Config{Path: "/var/lib/app/outbox.db"})
//	...
//	defer store.Close()
//	cache, err := tokencache.New(src, tokencache.Config{Store: store, Key: "partner-x"})
//
// One row per key holds the token (value, type, issue and expiry times) and
// the mint lock (owner and expiry, on the host's clock). The file is in
// WAL mode; every write waits up to Config.BusyTimeout for another
// process's. Statements are parameterised; the table name is validated and
// quoted. Wrap the store in tokencache.NewEncryptedStore to keep token
// values encrypted at rest. Processes on several hosts share a token
// through tokencache/postgres or tokencache/redis instead: a SQLite file
// on a network file system is not supported.
package sqlite
