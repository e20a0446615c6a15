package redis_test

import (
	"context"
	"log"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outbound-go/outbound/tokencache"
	tokenredis "github.com/outbound-go/outbound/tokencache/redis"
)

// Every instance of the service shares one token through Redis. (Not run by
// go test: it needs a server.)
func Example() {
	client := goredis.NewClient(&goredis.Options{Addr: "localhost:6379"})
	defer client.Close()
	store, err := tokenredis.New(client, tokenredis.Config{Prefix: "myapp:tokens:"})
	if err != nil {
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
	tok, err := cache.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	log.Println("token expires at", tok.Expiry)
}
