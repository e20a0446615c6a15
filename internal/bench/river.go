package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// The River contenders share how they set River up: a schema of their
// own, migrated by River's own migrator, and a client run until its
// context ends.

// riverLogger discards River's log lines, which would interleave with the
// report.
func riverLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// migrateRiver creates schema in pool's database and migrates River into
// it, or returns the first error.
func migrateRiver(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: riverLogger()})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

// runRiver starts c, works until ctx ends, then stops c, giving its jobs
// in progress ten seconds; it returns an error if c failed to start or to
// stop.
func runRiver[T any](ctx context.Context, c *river.Client[T]) error {
	if err := c.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
