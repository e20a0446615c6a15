package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// claimLog is a store that notes when, on the database's clock, each
// record it hands out was claimed: its lease's end less the lease.
type claimLog struct {
	*postgres.Store
	mu    sync.Mutex
	times []time.Time
}

func (c *claimLog) Claim(ctx context.Context, limit int, lease time.Duration, skip ...string) ([]delivery.Record, error) {
	recs, err := c.Store.Claim(ctx, limit, lease, skip...)
	c.mu.Lock()
	for _, r := range recs {
		c.times = append(c.times, r.LeaseExpiresAt.Add(-lease.Truncate(time.Microsecond)))
	}
	c.mu.Unlock()
	return recs, err
}

// Three dispatchers, each with its own pool, store and clock (one honest,
// one 200ms ahead, one 200ms behind), share a destination limited to 50/s
// with burst 10 for 11 seconds: over any span t, on the database's clock,
// they claim at most 10 + 50·t between them, and close to that many. The
// limit is read and written on the database's clock inside the claim, so
// the hosts' clocks do not enter it.
func TestRateHoldsAcrossProcessesWithClockSkew(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 11 seconds")
	}
	ctx := context.Background()
	first, _ := newStore(t, nil)
	schema, _, _ := strings.Cut(first.Name(), ".")
	msgs := make([]delivery.Message, 2000)
	for i := range msgs {
		msgs[i] = delivery.Message{ID: fmt.Sprintf("r-%05d", i), Destination: "partner", Payload: []byte(`{}`)}
	}
	_, err := first.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []time.Time // at the partner, on this host's clock
	partner := delivery.DelivererFunc(func(context.Context, *delivery.Message) error {
		mu.Lock()
		seen = append(seen, time.Now())
		mu.Unlock()
		return nil
	})
	runCtx, cancel := context.WithTimeout(ctx, 11*time.Second)
	defer cancel()
	var logs []*claimLog
	var wg sync.WaitGroup
	for _, skew := range []time.Duration{0, 200 * time.Millisecond, -200 * time.Millisecond} {
		p := newPool(t)
		s, err := postgres.New(postgres.Config{Pool: p, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		s.SetCallerClockForTest(func() time.Time { return time.Now().Add(skew) })
		log := &claimLog{Store: s}
		logs = append(logs, log)
		d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: log, Deliverer: partner, Concurrency: 8,
			Destinations: map[string]delivery.DestinationConfig{"partner": {Rate: 50, Burst: 10}}})
		require.NoError(t, err)
		wg.Go(func() { _ = d.Run(runCtx) })
	}
	wg.Wait()

	var claims []time.Duration
	var t0 time.Time
	for _, l := range logs {
		for _, c := range l.times {
			if t0.IsZero() || c.Before(t0) {
				t0 = c
			}
		}
	}
	for _, l := range logs {
		for _, c := range l.times {
			claims = append(claims, c.Sub(t0))
		}
	}
	slices.Sort(claims)
	require.NotEmpty(t, claims)
	span := claims[len(claims)-1].Seconds()
	for i := range claims {
		for j := i; j < len(claims); j++ {
			w := (claims[j] - claims[i]).Seconds()
			require.LessOrEqual(t, float64(j-i+1), 10+50*w+1e-9, "%d claims in %.6fs from %v", j-i+1, w, claims[i])
		}
	}
	assert.GreaterOrEqual(t, float64(len(claims)), 0.9*(10+50*span), "the fleet uses its limit: %d claims in %.1fs", len(claims), span)
	for i, l := range logs {
		assert.NotEmpty(t, l.times, "dispatcher %d took part", i)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(seen, time.Time.Compare)
	perSecond := map[int]int{}
	for _, s := range seen {
		perSecond[int(s.Sub(seen[0])/time.Second)]++
	}
	t.Logf("claims %d over %.1fs; at the partner per second: %v", len(claims), span, perSecond)
}
