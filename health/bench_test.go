package health_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/outbound-go/outbound/health"
)

// upGate returns a gate over a monitor that is up with a result fresh for
// an hour and a closed breaker: the dispatcher's hot path.
func upGate(tb testing.TB) *health.Gate {
	m, err := health.NewMonitor(health.MonitorConfig{
		Name: "partner", TTL: time.Hour,
		Checker: health.CheckerFunc(func(context.Context) error { return nil }),
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Check(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner"})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := health.NewGate(health.GateConfig{Monitor: m, Breaker: br})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func BenchmarkGateAllow(b *testing.B) {
	g := upGate(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Allow(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGateAllowParallel(b *testing.B) {
	g := upGate(b)
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := g.Allow(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGateAllowDown(b *testing.B) {
	m, err := health.NewMonitor(health.MonitorConfig{
		Name: "partner", TTL: time.Hour,
		Checker: health.CheckerFunc(func(context.Context) error { return errPartnerDown }),
	})
	if err != nil {
		b.Fatal(err)
	}
	g, _ := health.NewGate(health.GateConfig{Monitor: m})
	ctx := b.Context()
	_ = g.Allow(ctx)
	b.ReportAllocs()
	for b.Loop() {
		if err := g.Allow(ctx); err == nil {
			b.Fatal("gate open")
		}
	}
}

func BenchmarkCircuitBreakerAllowDone(b *testing.B) {
	br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		done, err := br.Allow(ctx)
		if err != nil {
			b.Fatal(err)
		}
		done(nil)
	}
}

func BenchmarkBreakersFor(b *testing.B) {
	set, err := health.NewBreakers(health.BreakersConfig{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "host-" + strconv.Itoa(i) + ".example"
		set.For(keys[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		set.For(keys[i%len(keys)])
		i++
	}
}

// Allow on an up destination with a closed breaker is asked before every
// attempt: it must not allocate.
func TestGateAllowHotPathDoesNotAllocate(t *testing.T) {
	g := upGate(t)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := g.Allow(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Gate.Allow on the hot path allocates %v times per call", allocs)
	}
}

// BenchmarkBreakersForParallel is For on one host from every CPU, as a
// client sending to one partner calls it: it takes no lock and, the key
// staying the most recent, writes nothing the CPUs share.
func BenchmarkBreakersForParallel(b *testing.B) {
	set, err := health.NewBreakers(health.BreakersConfig{})
	if err != nil {
		b.Fatal(err)
	}
	set.For("partner.example")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			set.For("partner.example")
		}
	})
}

// BenchmarkCircuitBreakerDoParallel is Do with a succeeding call from every
// CPU: gobreaker's lock, taken twice a call, is what they share.
func BenchmarkCircuitBreakerDoParallel(b *testing.B) {
	br, err := health.NewCircuitBreaker(health.BreakerConfig{Name: "partner"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := br.Do(ctx, func(context.Context) error { return nil }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
