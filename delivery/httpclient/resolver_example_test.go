package httpclient_test

import (
	"log"
	"time"

	"github.com/outbound-go/outbound/delivery/httpclient"
)

// A client whose dialer resolves through a caching resolver: a resolver
// that fails or lies (NXDOMAIN for a name that exists) for up to an hour
// does not fail deliveries.
func ExampleCachingResolver() {
	resolver, err := httpclient.NewCachingResolver(httpclient.ResolverConfig{
		// Servers: []string{"10.0.0.2:53"}, // default: /etc/resolv.conf
		MaxStale:        time.Hour,
		RefreshInterval: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resolver.Close()
	client, err := httpclient.New(httpclient.Config{Resolver: resolver})
	if err != nil {
		log.Fatal(err)
	}
	_ = client // share it between the deliverers of the service
}
