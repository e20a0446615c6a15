package postgres

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockSpace is the first key of the advisory lock Migrate holds;
// the second is a hash of the schema name, so boots that migrate different
// schemas do not wait for each other.
const migrationLockSpace = 0x6f7574 // "out"

// loadMigrations renders the embedded migrations for n, in version order.
func loadMigrations(n names) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration file %q has no version prefix", name)
		}
		src, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %s: %w", name, err)
		}
		tmpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("postgres: parse migration %s: %w", name, err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, n); err != nil {
			return nil, fmt.Errorf("postgres: render migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: buf.String()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("postgres: no migrations embedded")
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// Migrate creates or upgrades the outbox schema: the records table, the
// per-key table, the sequence, the indexes and the insert trigger. It is
// idempotent and safe to call from every instance at boot at the same time:
// it runs in one transaction under a transaction-scoped advisory lock, and
// applies only the versions not yet recorded in the migrations table. On
// error nothing is applied and the error says which version failed.
//
// An upgrade runs in place on a populated outbox; each version's file in
// the package's migrations directory says what it costs (adding a column is
// instant, building an index reads the table and holds writes back until it
// is built).
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrate(ctx, s.migrations[len(s.migrations)-1].version)
}

// migrate applies the versions up to and including upTo.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: migrate %s: begin: %w", s.n.raw, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, migrationLockSpace, s.cfg.Schema); err != nil {
		return fmt.Errorf("postgres: migrate %s: lock: %w", s.n.raw, err)
	}
	setup := `CREATE SCHEMA IF NOT EXISTS ` + s.n.Schema + `;
CREATE TABLE IF NOT EXISTS ` + s.n.Migrations + ` (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL
)`
	if _, err := tx.Exec(ctx, setup); err != nil {
		return fmt.Errorf("postgres: migrate %s: create schema: %w", s.n.raw, err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM `+s.n.Migrations)
	if err != nil {
		return fmt.Errorf("postgres: migrate %s: read versions: %w", s.n.raw, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("postgres: migrate %s: read versions: %w", s.n.raw, err)
	}
	for _, m := range s.migrations {
		if m.version > upTo || slices.Contains(applied, int32(m.version)) {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migrate %s: apply %s: %w", s.n.raw, m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.n.Migrations+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, s.now()); err != nil {
			return fmt.Errorf("postgres: migrate %s: record %s: %w", s.n.raw, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate %s: commit: %w", s.n.raw, err)
	}
	return nil
}

// SchemaVersion returns the highest migration version applied to the
// outbox, or 0 if Migrate never ran. It returns the database error if the
// migrations table cannot be read for another reason.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.n.Migrations).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version of %s: %w", s.n.raw, err)
	}
	if !exists {
		return 0, nil
	}
	var v int32
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+s.n.Migrations).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version of %s: %w", s.n.raw, err)
	}
	return int(v), nil
}
