package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/postgres"
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// storeOptions says which store to open.
type storeOptions struct {
	url           string // postgres:URL, sqlite:PATH
	schema, table string // PostgreSQL only
	timeout       time.Duration
}

// openStore opens the store opts names and checks it holds an outbox. It
// returns the store and a function that closes it. It never creates or
// migrates anything: an operator's tool must not change a service's
// schema, nor leave an empty outbox where a path was mistyped.
func openStore(ctx context.Context, opts storeOptions) (delivery.Store, func(), error) {
	kind, rest, _ := strings.Cut(opts.url, ":")
	switch {
	case opts.url == "":
		return nil, nil, usagef("no store: pass -store postgres:URL or -store sqlite:PATH (or set OUTBOUND_STORE)")
	case kind == "postgres" && (strings.HasPrefix(rest, "//") || strings.HasPrefix(rest, "postgres")):
		// "postgres://..." is a PostgreSQL URL as it is; "postgres:postgres://..." names it.
		u := opts.url
		if !strings.HasPrefix(rest, "//") {
			u = rest
		}
		return openPostgres(ctx, u, opts)
	case kind == "postgresql":
		return openPostgres(ctx, opts.url, opts)
	case kind == "sqlite":
		return openSQLite(ctx, rest)
	}
	return nil, nil, usagef("store %q: want postgres:URL or sqlite:PATH", delivery.RedactURL(opts.url))
}

func openPostgres(ctx context.Context, url string, opts storeOptions) (delivery.Store, func(), error) {
	shown := delivery.RedactURL(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, usagef("store postgres:%s: not a PostgreSQL URL (want postgres://user@host:port/db)", shown)
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("open PostgreSQL %s: %w", shown, err)
	}
	pctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("cannot reach PostgreSQL at %s: %w (check the URL, that the server is running and that it accepts this user)", shown, err)
	}
	s, err := postgres.New(postgres.Config{Pool: pool, Schema: opts.schema, Table: opts.table})
	if err != nil {
		pool.Close()
		return nil, nil, usagef("%v", err)
	}
	closeAll := func() { _ = s.Close(); pool.Close() }
	v, err := s.SchemaVersion(pctx)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("read the outbox at %s: %w", shown, err)
	}
	if v == 0 {
		closeAll()
		return nil, nil, fmt.Errorf("no outbox %s in %s: check -schema and -table, or start the service once (it migrates)", s.Name(), shown)
	}
	return s, closeAll, nil
}

func openSQLite(ctx context.Context, path string) (delivery.Store, func(), error) {
	if path == "" {
		return nil, nil, usagef("store sqlite: needs a path, like sqlite:/var/lib/app/outbox.db")
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("no SQLite outbox at %q: check the path (this command never creates one)", path)
		}
		return nil, nil, fmt.Errorf("SQLite outbox %q: %w", path, err)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		// %v: a file that cannot be opened is an error (exit 1), not a
		// refused action, whatever the store's error wraps.
		return nil, nil, fmt.Errorf("open SQLite outbox: %v", err)
	}
	return s, func() { _ = s.Close() }, nil
}
