// Package tokentest helps test code that uses package tokencache: a fake
// OAuth2 token issuer, and the conformance suites every tokencache.Store
// must pass.
//
// [Issuer] is an http.Handler serving a client-credentials token endpoint
// that mints real signed JWTs and counts them, so a test can assert how many
// tokens were minted, make the issuer fail, revoke tokens, and check the
// tokens a fake partner receives:
//
//	iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour})
//	srv := httptest.NewServer(iss)
//	defer srv.Close()
//	cache, _ := tokencache.New(tokencache.ClientCredentials(iss.Config(srv.URL), nil), tokencache.Config{})
//	defer cache.Close()
//	partner := httptest.NewServer(iss.Require(okHandler)) // 401 for bad tokens
//	...
//	if iss.Mints() != 1 { t.Fatal("minted more than once") }
//
// [RunStoreTests] checks one store's contract; [RunSharingTests] checks that
// caches in separate "processes" over a store mint one token between them.
// Run both on your own Store:
//
//	func TestMyStore(t *testing.T) {
//		tokentest.RunStoreTests(t, func(t *testing.T) tokencache.Store { return newMyStore(t) })
//	}
package tokentest
