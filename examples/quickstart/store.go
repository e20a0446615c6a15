package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// The -store flag's kinds.
const (
	storeMemory   = "memory"
	storeSQLite   = "sqlite:"
	storePostgres = "postgres:"
)

// parseStore reads -store (and -postgres, its older spelling for
// PostgreSQL) into c.postgres or c.sqlite.
func (c *config) parseStore() error {
	if c.postgres != "" {
		if c.store != storeMemory {
			return fmt.Errorf("-postgres and -store name two outboxes; use -store postgres:URL alone")
		}
		return nil
	}
	switch {
	case c.store == storeMemory:
	case strings.HasPrefix(c.store, storeSQLite):
		c.sqlite = strings.TrimPrefix(c.store, storeSQLite)
		if c.sqlite == "" {
			return fmt.Errorf("-store sqlite:PATH needs a path")
		}
	case strings.HasPrefix(c.store, storePostgres):
		c.postgres = strings.TrimPrefix(c.store, storePostgres)
		if c.postgres == "" {
			return fmt.Errorf("-store postgres:URL needs a URL")
		}
	default:
		return fmt.Errorf("-store %q: want memory, sqlite:PATH or postgres:URL", c.store)
	}
	return nil
}

// openStore returns the outbox: in memory, in a new SQLite file (see
// openSQLite), or in a fresh schema of the PostgreSQL database at
// cfg.postgres (see openPostgres). close releases it.
func openStore(ctx context.Context, cfg config) (store delivery.Store, name string, close func() error, err error) {
	switch {
	case cfg.postgres != "":
		return openPostgres(ctx, cfg)
	case cfg.sqlite != "":
		return openSQLite(ctx, cfg)
	}
	return memstore.New(memstore.Config{}), "memory", func() error { return nil }, nil
}
