package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/sqlite"
)

// openSQLite returns an outbox in a new SQLite file at cfg.sqlite: the run
// accounts for every record of its outbox, so an existing file (an earlier
// run's records) is refused, never reused or replaced. close releases it
// and removes the file (and its WAL files) unless cfg.keep.
func openSQLite(ctx context.Context, cfg config) (store delivery.Store, name string, close func() error, err error) {
	if _, err := os.Stat(cfg.sqlite); err == nil {
		return nil, "", nil, fmt.Errorf("sqlite: %s exists; the quickstart needs a new file (remove it, or name another)", cfg.sqlite)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", nil, fmt.Errorf("sqlite: %w", err)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.sqlite})
	if err != nil {
		return nil, "", nil, err
	}
	close = func() error {
		err := s.Close()
		if !cfg.keep {
			for _, f := range []string{cfg.sqlite, cfg.sqlite + "-wal", cfg.sqlite + "-shm"} {
				if rerr := os.Remove(f); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
					err = rerr
				}
			}
		}
		return err
	}
	return s, "SQLite " + cfg.sqlite, close, nil
}
