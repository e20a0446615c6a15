package redislimit_test

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/redislimit"
)

// Every process that sends to the partner through this middleware, on the
// same Redis, shares one limit of 20 requests a second, 5 at once.
func Example() {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	lim, err := redislimit.New(client, redislimit.Config{Prefix: "myapp:rate:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	send := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })
	limited := delivery.Chain(send, lim.Middleware(redislimit.PerDestination(20, 5)))
	_ = limited // DispatcherConfig.Deliverer
}
