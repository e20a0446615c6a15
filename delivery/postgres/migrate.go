package postgres

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
//
// Migrate first reads the applied versions without taking a lock or
// creating anything, and returns nil if none is missing: a runtime role
// with only the privileges of GrantSQL may call it at boot once an owner
// (or the team's migration tool, fed by Migrations) has migrated. When a
// version is missing and the role may not apply it, the error wraps
// ErrPrivilege and names the privilege and the migration to run.
func (s *Store) Migrate(ctx context.Context) error {
	upTo := s.migrations[len(s.migrations)-1].version
	if current, err := s.migrated(ctx, upTo); err != nil || current {
		return err
	}
	return s.migrate(ctx, upTo)
}

// ErrPrivilege is wrapped by the error Migrate returns when the role lacks
// a privilege the schema change needs (PostgreSQL's insufficient_privilege
// or "must be owner"); the message names the privilege and the migration.
var ErrPrivilege = errors.New("postgres: insufficient privilege")

// migrated reports whether every version up to upTo is applied, reading
// the migrations table only. A missing table or schema reports false.
func (s *Store) migrated(ctx context.Context, upTo int) (bool, error) {
	var exists bool
	// to_regclass is NULL for a missing table, and for one in a schema
	// the role may not use.
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.n.Migrations).Scan(&exists); err != nil {
		return false, fmt.Errorf("postgres: migrate %s: read versions: %w", s.n.raw, err)
	}
	if !exists {
		return false, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT version FROM `+s.n.Migrations)
	if err != nil {
		return false, s.privilegeError(err, "read versions", "SELECT on "+s.n.Migrations, "")
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return false, s.privilegeError(err, "read versions", "SELECT on "+s.n.Migrations, "")
	}
	return len(s.missing(applied, upTo)) == 0, nil
}

// missing returns the migrations up to upTo that are not in applied.
func (s *Store) missing(applied []int32, upTo int) []migration {
	var out []migration
	for _, m := range s.migrations {
		if m.version <= upTo && !slices.Contains(applied, int32(m.version)) {
			out = append(out, m)
		}
	}
	return out
}

// insufficientPrivilege is PostgreSQL's SQLSTATE for a missing privilege
// or ownership.
const insufficientPrivilege = "42501"

// privilegeError wraps err from a migration step. When the server refused
// for lack of privilege (SQLSTATE 42501) or ownership (a 42501 too), the
// error wraps ErrPrivilege and names need and, if set, the migration.
func (s *Store) privilegeError(err error, step, need, migration string) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != insufficientPrivilege {
		return fmt.Errorf("postgres: migrate %s: %s: %w", s.n.raw, step, err)
	}
	what := ""
	if migration != "" {
		what = " to apply " + migration
	}
	return fmt.Errorf("postgres: migrate %s: %s: %w: the role needs %s%s; run Migrate as the outbox's owner, or apply postgres.Migrations (the outbound-schema command prints them) with your migration tool: %w",
		s.n.raw, step, ErrPrivilege, need, what, err)
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
	// CREATE ... IF NOT EXISTS checks the privilege before it looks, so
	// only what is missing is created.
	var schemaExists, tableExists bool
	if err := tx.QueryRow(ctx, `SELECT to_regnamespace($1) IS NOT NULL, to_regclass($2) IS NOT NULL`,
		s.n.schema, s.n.Migrations).Scan(&schemaExists, &tableExists); err != nil {
		return fmt.Errorf("postgres: migrate %s: read versions: %w", s.n.raw, err)
	}
	var applied []int32
	if tableExists {
		rows, err := tx.Query(ctx, `SELECT version FROM `+s.n.Migrations)
		if err != nil {
			return s.privilegeError(err, "read versions", "SELECT on "+s.n.Migrations, "")
		}
		if applied, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
			return s.privilegeError(err, "read versions", "SELECT on "+s.n.Migrations, "")
		}
	}
	missing := s.missing(applied, upTo)
	if len(missing) == 0 {
		return nil // another instance migrated meanwhile
	}
	if !schemaExists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+s.n.Schema); err != nil {
			return s.privilegeError(err, "create schema", "CREATE on the database (or the schema created by its owner)", missing[0].name)
		}
	}
	if !tableExists {
		if _, err := tx.Exec(ctx, bookkeepingSQL(s.n)); err != nil {
			return s.privilegeError(err, "create the migrations table", "CREATE on the schema "+s.n.Schema, missing[0].name)
		}
	}
	for _, m := range missing {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return s.privilegeError(err, "apply "+m.name, "CREATE on the schema "+s.n.Schema+" and ownership of the outbox's tables", m.name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.n.Migrations+` (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, s.now()); err != nil {
			return s.privilegeError(err, "record "+m.name, "INSERT on "+s.n.Migrations, m.name)
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
