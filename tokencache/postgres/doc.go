// Package postgres is a tokencache.Store in a PostgreSQL table (pgx/v5), so
// that every instance of a service shares one token and mints it once per
// lifetime between them.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	store, err := postgres.New(pool, postgres.Config{Table: "app.outbound_tokens"})
//	...
//	if err := store.Migrate(ctx); err != nil { ... } // once, at deploy or boot
//	cache, err := tokencache.New(src, tokencache.Config{Store: store, Key: "partner-x"})
//
// One row per key holds the token (value, type, issue and expiry times) and
// the mint lock (owner and expiry, by the database's clock). Statements are
// parameterised; the table name is validated and quoted. Wrap the store in
// tokencache.NewEncryptedStore to keep token values encrypted at rest.
package postgres
