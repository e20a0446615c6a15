// Package httpclient builds the one shared *http.Client a service uses for
// a partner: connections per host bounded (25 by default) with an idle
// pool to match, so a backlog can never open a socket per record;
// keep-alive on; dial, TLS, response-header and overall timeouts; and an
// opt-in dial guard that refuses private, loopback and link-local
// addresses after DNS resolution, for URLs that come from users.
//
//	client, err := httpclient.New(httpclient.Config{MaxConnsPerHost: 8})
//	if err != nil {
//		return err
//	}
//	send, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: ...})
//
// Config.Resolver puts a [CachingResolver] under the dialer: DNS answers
// cached for their TTL and served stale while the upstream resolver fails
// or lies, so a resolver's bad minute does not fail every request.
//
// It is a leaf: it never imports package delivery, so any code that takes
// an *http.Client (a generated API client, a vendor SDK) can use it.
package httpclient
