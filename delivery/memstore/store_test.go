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
