package main

import (
	"context"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// openStore returns the outbox: in memory, or in a fresh schema of the
// PostgreSQL database at cfg.postgres (see openPostgres). close releases
// it.
func openStore(ctx context.Context, cfg config) (store delivery.Store, name string, close func() error, err error) {
	if cfg.postgres == "" {
		return memstore.New(memstore.Config{}), "memory", func() error { return nil }, nil
	}
	return openPostgres(ctx, cfg)
}
