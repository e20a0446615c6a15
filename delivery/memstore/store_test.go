package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) delivery.Store {
		return memstore.New(memstore.Config{Now: now})
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, now func() time.Time) (delivery.Store, delivery.Store) {
		s := memstore.New(memstore.Config{Now: now})
		return s, s // one process: both handles are the one store
	})
}

func TestHistoryBounds(t *testing.T) {
	storetest.RunHistoryBounds(t, func(t *testing.T, now func() time.Time, h delivery.History) delivery.Store {
		return memstore.New(memstore.Config{Now: now, History: h})
	})
}

func TestConformanceTx(t *testing.T) {
	storetest.RunTx(t, func(t *testing.T, now func() time.Time) storetest.TxStore[*memstore.Tx] {
		s := memstore.New(memstore.Config{Now: now})
		return storetest.TxStore[*memstore.Tx]{
			Store: s, Enqueuer: s,
			Begin:    func(context.Context) (*memstore.Tx, error) { return s.Begin(), nil },
			Commit:   (*memstore.Tx).Commit,
			Rollback: (*memstore.Tx).Rollback,
		}
	})
}
