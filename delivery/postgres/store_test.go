package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		s, _ := newStore(t, now)
		return s
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, now func() time.Time) (delivery.Store, delivery.Store) {
		a, pool := newStore(t, now)
		schema, _, _ := strings.Cut(a.Name(), ".")
		b, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Now: now})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return a, b
	})
}

func TestHistoryBounds(t *testing.T) {
	storetest.RunHistoryBounds(t, func(t *testing.T, now func() time.Time, h delivery.History) delivery.Store {
		pool := newPool(t)
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: newSchema(t, pool), Now: now, History: h})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		require.NoError(t, s.Migrate(context.Background()))
		return s
	})
}
