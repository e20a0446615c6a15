// Package redis is a tokencache.Store in Redis (go-redis/v9), so that every
// instance of a service shares one token and mints it once per lifetime
// between them.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379"}) // github.com/redis/go-redis/v9
//	store, err := tokenredis.New(client, tokenredis.Config{Prefix: "myapp:tokens:"})
//	...
//	cache, err := tokencache.New(src, tokencache.Config{Store: store, Key: "partner-x"})
//
// The lock is SET NX PX (it expires by the server's clock); compare-and-delete
// and unlock are Lua scripts. A token and its lock share a hash tag, so the
// store also works on Redis Cluster. Wrap the store in
// tokencache.NewEncryptedStore to keep token values encrypted at rest.
package redis
