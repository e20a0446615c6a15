package failover_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failover"
)

func Example() {
	// The primary refuses connections; the backup accepts.
	primary := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	})
	backup := delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil })

	set, err := failover.New(failover.Config{
		Name: "partner",
		Channels: []failover.Channel{
			{Name: "primary", Deliverer: primary},
			{Name: "backup", Deliverer: backup},
		},
		OnSwitch: func(s failover.Switch) { fmt.Printf("switch %s -> %s: %s\n", s.From, s.To, s.Cause) },
		OnSend: func(_ context.Context, s failover.Send) {
			fmt.Printf("sent %s on %s: %s\n", s.Message.ID, s.Channel, classify.Of(s.Err))
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"m1", "m2"} {
		err := set.Deliver(context.Background(), &delivery.Message{ID: id, Payload: []byte("{}")})
		fmt.Println(id, "delivered:", err == nil)
	}
	fmt.Println("active:", set.Active())
	// Output:
	// sent m1 on primary: ephemeral
	// switch primary -> backup: conn_refused
	// sent m1 on backup: ok
	// m1 delivered: true
	// sent m2 on backup: ok
	// m2 delivered: true
	// active: backup
}
