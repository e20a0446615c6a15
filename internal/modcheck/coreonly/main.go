// Command coreonly is the smallest program a user of outbound's core
// writes: it imports only delivery, retry and classify, sends one message
// through a Deliverer that fails twice with an ephemeral error, and prints
// the outcome. It lives in its own module so that its go.mod shows what
// such a user's go.mod holds: internal/modcheck fails if that is anything
// beyond the core dependency list.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/retry"
)

func main() {
	attempts := 0
	send := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		attempts++
		if attempts < 3 {
			return classify.Ephemeral(errors.New("coreonly: partner busy"))
		}
		return nil
	})
	d := delivery.Chain(send)
	p := retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 5}
	msg := &delivery.Message{ID: "m-1", Payload: []byte(`{"hello":"partner"}`)}
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		return d.Deliver(ctx, msg)
	})
	fmt.Printf("%s: %s after %d attempts\n", msg.ID, classify.Of(err), attempts)
	if err != nil {
		os.Exit(1)
	}
}
