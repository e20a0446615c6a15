package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// A run whose claim finds nothing while an attempt is still out waited
// for that attempt to end before it claimed again, and Run, waiting on
// the run, did not look either: a record enqueued for a healthy
// destination while a slow partner took 20 s to answer was sent 20 s
// late (up to AttemptTimeout, 30 s by default), and so was a healthy
// destination's retry that came due meanwhile. A slow partner must cost
// the others nothing.
func TestASlowAttemptHoldsUpNoOtherDestination(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fast  func(n int) error // the fast partner's answer to its nth request
		sends int
	}{
		{"insert", func(int) error { return nil }, 1},
		{"retry", func(n int) error {
			if n == 1 {
				return &classify.Error{Class: classify.ClassEphemeral, Status: 500}
			}
			return nil
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := memstore.New(memstore.Config{})
				fastSent := 0
				partners := newFakePartners(func(dest string, _ *delivery.Message, _ time.Time) (time.Duration, error) {
					if dest == "slow" {
						return 20 * time.Second, nil
					}
					fastSent++ // one at a time: Concurrency 1 per destination here
					return time.Millisecond, tc.fast(fastSent)
				})
				for i := range 3 {
					enqueue(t, store, delivery.Message{ID: fmt.Sprintf("slow-%d", i), Destination: "slow", Payload: pl("s")})
				}
				ctx, cancel := context.WithCancel(context.Background())
				wg := runFleet(t, ctx, 1, delivery.DispatcherConfig{Store: store, Deliverer: partners, Concurrency: 4,
					Destinations: map[string]delivery.DestinationConfig{"fast": {}, "slow": {}},
					Policy:       retry.Policy{Backoff: retry.Constant(time.Second)}})
				time.Sleep(time.Second) // the slow partner has all three
				enqueue(t, store, delivery.Message{ID: "fast-1", Destination: "fast", Payload: pl("f")})
				time.Sleep(time.Minute)
				cancel()
				wg.Wait()

				got := partners.requests("fast")
				require.Len(t, got, tc.sends)
				assert.Less(t, got[0], 1100*time.Millisecond, "sent when enqueued, not when a slow attempt ended")
				if tc.sends > 1 {
					assert.Less(t, got[1]-got[0], 1100*time.Millisecond, "the retry went when due, a second later")
				}
				assert.Len(t, partners.received("slow"), 3)
			})
		})
	}
}
