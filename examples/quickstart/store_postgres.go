package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
)

// openPostgres returns an outbox in a fresh schema of the PostgreSQL
// database at cfg.postgres. close releases it (and drops the schema unless
// cfg.keep).
func openPostgres(ctx context.Context, cfg config) (store delivery.Store, name string, close func() error, err error) {
	pool, err := pgxpool.New(ctx, cfg.postgres)
	if err != nil {
		return nil, "", nil, fmt.Errorf("postgres: %w", err)
	}
	// A schema of our own, named by us (so safe to interpolate below).
	schema := "quickstart_" + strings.ToLower(rand.Text()[:10])
	pg, err := postgres.New(postgres.Config{Pool: pool, Schema: schema})
	if err != nil {
		pool.Close()
		return nil, "", nil, err
	}
	drop := func() error {
		_, err := pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
		return err
	}
	if err := pg.Migrate(ctx); err != nil {
		_ = drop()
		pool.Close()
		return nil, "", nil, err
	}
	name = "PostgreSQL " + pg.Name()
	close = func() error {
		err := pg.Close()
		if !cfg.keep {
			if derr := drop(); err == nil {
				err = derr
			}
		}
		pool.Close()
		return err
	}
	return pg, name, close, nil
}
