package tokencache_test

import (
	"context"
	"testing"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func benchCache(b *testing.B) *tokencache.Cache {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	c, err := tokencache.New(iss.Source(), tokencache.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if _, err := c.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkTokenHit(b *testing.B) {
	c := benchCache(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenHitParallel(b *testing.B) {
	c := benchCache(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Token(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkJWTExpiry(b *testing.B) {
	tok, err := tokentest.NewIssuer(tokentest.IssuerConfig{}).Source().Token(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokencache.JWTExpiry(tok.Value); err != nil {
			b.Fatal(err)
		}
	}
}

// The hit path is what every request pays: it must not allocate.
func TestTokenHitDoesNotAllocate(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	c := newCache(t, iss.Source(), tokencache.Config{})
	ctx := context.Background()
	first, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		tok, err := c.Token(ctx)
		if err != nil || tok.Value != first.Value {
			t.Fatalf("hit path returned another token or %v", err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Token on the hit path allocates %v times per call", allocs)
	}
}
