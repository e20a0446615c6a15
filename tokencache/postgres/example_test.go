package postgres_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/postgres"
)

// Every instance of the service shares one token through PostgreSQL. (Not
// run by go test: it needs a database.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	store, err := postgres.New(pool, postgres.Config{Table: "public.outbound_tokens"})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{Value: "minted-by-your-issuer"}, nil
	})
	cache, err := tokencache.New(src, tokencache.Config{Store: store, Key: "partner-x"})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	tok, err := cache.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	log.Println("token expires at", tok.Expiry)
}
