package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// BenchmarkRetryHistory measures what keeping the attempt history costs a
// failing record: each op claims 100 records and reschedules each with a
// failed attempt whose error and response texts are the given sizes, over
// and over, so from the tenth round on every settle appends to a full
// history (10 attempts) and trims it. errors=0 is a record whose attempts
// carry no text.
func BenchmarkRetryHistory(b *testing.B) {
	for _, size := range []int{0, 1024} {
		b.Run(fmt.Sprintf("text=%dB", size), func(b *testing.B) {
			store, _ := newStore(b, nil)
			ctx := context.Background()
			msgs := make([]delivery.Message, 100)
			for i := range msgs {
				msgs[i] = delivery.Message{ID: fmt.Sprintf("h-%d", i), Payload: []byte(`{"candidate":42}`)}
			}
			if _, err := store.Enqueue(ctx, msgs...); err != nil {
				b.Fatal(err)
			}
			a := delivery.Attempt{StartedAt: time.Now(), Duration: time.Second, Class: classify.ClassEphemeral, Status: 503,
				Error: strings.Repeat("e", size), Response: strings.Repeat("r", 2*size)}
			settles := 0
			b.ReportAllocs()
			for b.Loop() {
				recs, err := store.Claim(ctx, 100, time.Minute)
				if err != nil || len(recs) != 100 {
					b.Fatalf("claim: %d, %v", len(recs), err)
				}
				for _, r := range recs {
					if err := store.Reschedule(ctx, r.Lease(), time.Now().Add(-time.Second), &a); err != nil {
						b.Fatal(err)
					}
					settles++
				}
			}
			b.ReportMetric(float64(settles)/b.Elapsed().Seconds(), "settles/s")
		})
	}
}
