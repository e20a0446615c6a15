// Package tokencache shares one auth token among all goroutines of a
// process and, through a shared Store, among all processes, so that a
// service mints a machine-to-machine token once per lifetime instead of once
// per record (and does not exhaust the partner's token quota).
//
//	src := tokencache.ClientCredentials(&clientcredentials.Config{
//		ClientID: id, ClientSecret: secret, TokenURL: "https://auth.example.com/oauth/token",
//	}, nil)
//	cache, err := tokencache.New(src, tokencache.Config{
//		Store: pgstore, // shared by every instance; nil means in-process only
//	})
//	if err != nil { ... }
//	defer cache.Close()
//	client := &http.Client{Transport: &tokencache.Transport{Cache: cache}}
//
// [Cache.Token] returns the cached token while it is valid beyond a refresh
// skew (by default min(1 minute, 10% of its lifetime)); it costs a few tens
// of nanoseconds and no allocation. When the token is due, one goroutine per
// process refreshes it: it reads the Store, and only if the store holds
// nothing fresh it takes the store's lock, reads again, mints, saves and
// unlocks. Processes that lose the race for the lock poll the store for the
// winner's token. A lock whose holder crashed expires after Config.LockTTL;
// then one waiting process takes it over and mints, and the others pick up
// its token, so a crash costs one mint, not one per process. A process
// mints without the lock only if the store fails, or if the lock stays
// taken for 2*LockTTL + MintTimeout. Every caller waits with its own
// context; the shared refresh runs on.
//
// Tokens without an expiry get one from the JWT exp claim (read without
// verifying the signature, see [JWTExpiry]) or, for opaque tokens,
// Config.TTL. With Config.ProactiveRefresh a background goroutine refreshes
// tokens before they are due, so callers never wait.
//
// When a partner rejects a token, [Cache.Invalidate] drops it, deleting the
// stored copy only if it is still that exact token (compare-and-delete), so
// a newer token minted by another process is not thrown away. [Transport]
// does this on a 401 and replays the request once. If no fresh token can be
// had for the replay, it returns the cache's Unavailable error instead of
// the 401, so records wait out an issuer outage; a 401 to the replay, made
// with a fresh token, is returned as the response (by default the
// dispatcher dead-letters it: a human must look). If your partner's auth
// server has outages that answer 401 to fresh tokens, classify 401 as
// Ephemeral in classify.HTTPRules so the circuit breaker opens instead of
// dead-lettering:
//
//	rules := classify.HTTPRules{Statuses: map[int]classify.Class{
//		http.StatusUnauthorized: classify.ClassEphemeral,
//	}}
//
// Failures are not cached, but they pause refreshes with a doubling backoff
// (Config.FailureBackoff), so a down issuer is not hammered. Every error
// from Token is classify.ClassUnavailable, with the pause as its
// Retry-After where there is one: a failed mint, the backoff, a caller whose
// context ended while waiting, a closed cache. The partner was never tried,
// so a dispatcher defers the record without counting an attempt. The
// store is an optimisation the cache can live without: if it fails, the
// cache mints on its own and reports EventStoreError.
//
// Stores: [MemoryStore] here, PostgreSQL in tokencache/postgres and Redis in
// tokencache/redis; [EncryptedStore] encrypts token values at rest in any
// of them. Package tokencache/tokentest has a fake issuer and the store
// conformance suite.
//
// Token values never appear in errors, events or printed output: [Token]
// redacts its value in every fmt verb, JSON and slog. What a token issuer
// answers is treated as untrusted text: the error of a failed mint has the
// client's secret and anything shaped like a credential redacted and is cut
// to [MaxErrorText] bytes at its source, before any log, event or stored
// record sees it, and [Event.LogValue] redacts again.
package tokencache
