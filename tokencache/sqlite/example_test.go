package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/sqlite"
)

// The processes of one host share one token through a file.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tokens")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "app.db")})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	mints := 0
	src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		mints++
		return tokencache.Token{Value: "minted-by-your-issuer"}, nil
	})
	cache, err := tokencache.New(src, tokencache.Config{Store: store, Key: "partner-x"})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	for range 3 {
		if _, err := cache.Token(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("mints:", mints)
	// Output: mints: 1
}
