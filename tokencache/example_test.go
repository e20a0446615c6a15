package tokencache_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// Many goroutines share one token: the issuer is asked once.
func Example() {
	issuer := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour})
	idp := httptest.NewServer(issuer) // an OAuth2 token endpoint
	defer idp.Close()

	cache, err := tokencache.New(
		tokencache.ClientCredentials(issuer.Config(idp.URL), idp.Client()),
		tokencache.Config{}, // Store: a shared store in production
	)
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := cache.Token(context.Background()); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()
	fmt.Println("tokens minted:", issuer.Mints())
	// Output: tokens minted: 1
}

// The Transport authenticates requests and recovers from a revoked token by
// invalidating it and replaying the request once.
func ExampleTransport() {
	issuer := tokentest.NewIssuer(tokentest.IssuerConfig{})
	api := httptest.NewServer(issuer.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", body)
	})))
	defer api.Close()

	cache, err := tokencache.New(issuer.Source(), tokencache.Config{})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	client := &http.Client{Transport: &tokencache.Transport{Base: api.Client().Transport, Cache: cache}}

	send := func(payload string) {
		resp, err := client.Post(api.URL, "text/plain", strings.NewReader(payload))
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	send("first")
	tok, _ := cache.Token(context.Background())
	issuer.Revoke(tok.Value) // the partner stops accepting it
	send("second")
	fmt.Println("tokens minted:", issuer.Mints())
	// Output:
	// 200 got first
	// 200 got second
	// tokens minted: 2
}

// Printing a token never shows its value.
func ExampleToken_String() {
	tok := tokencache.Token{Value: "eyJhbGciOi...", Expiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	fmt.Println(tok)
	fmt.Printf("%#v\n", tok)
	// Output:
	// Token{Type: Bearer, Expiry: 2030-01-01T00:00:00Z, Value: [redacted]}
	// tokencache.Token{Value: "[redacted]", Type: "", Expiry: 2030-01-01T00:00:00Z, IssuedAt: 0001-01-01T00:00:00Z}
}

// Encrypting tokens at rest in a shared store.
func ExampleNewEncryptedStore() {
	key := make([]byte, 32) // in production: from your secret manager
	_, _ = rand.Read(key)
	inner := &tokencache.MemoryStore{} // or a postgres or redis store
	store, err := tokencache.NewEncryptedStore(inner, key)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = store.Save(ctx, "partner", tokencache.Token{Value: "secret", Expiry: time.Now().Add(time.Hour)})

	raw, _ := inner.Load(ctx, "partner")
	tok, _ := store.Load(ctx, "partner")
	fmt.Println("stored in plaintext:", raw.Value == "secret")
	fmt.Println("read back:", tok.Value == "secret")
	// Output:
	// stored in plaintext: false
	// read back: true
}
