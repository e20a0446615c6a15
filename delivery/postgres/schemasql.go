package postgres

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Migration is one versioned schema change of the outbox, rendered for a
// schema and table, for a team that applies migrations with its own tool
// (goose, golang-migrate, atlas) instead of Store.Migrate.
type Migration struct {
	// Version is the migration's number, 1 for the first; versions grow
	// but need not be contiguous.
	Version int
	// Name is the embedded file's name, such as "0001_init.sql".
	Name string
	// SQL is the rendered migration: every statement of the version,
	// followed by the bookkeeping that Store.Migrate does (the schema and
	// the table_migrations table created if missing, and the version
	// recorded there), so Store.SchemaVersion and Store.Migrate see
	// the version as applied. It is meant to run in one transaction.
	SQL string
}

// Migrations returns the SQL of every migration of the outbox in schema
// and table, in version order, rendered as Store.Migrate would apply it.
// Empty schema or table mean the defaults ("outbound", "outbox"). Each
// Migration's SQL ends by recording its version in table_migrations, with
// ON CONFLICT DO NOTHING, so an outbox migrated partly by Migrate and
// partly by a tool stays consistent and Migrate, run later by a role
// without CREATE rights, finds nothing to do. A name that is not a valid
// lower-case identifier gives an error wrapping ErrConfig.
func Migrations(schema, table string) ([]Migration, error) {
	n, err := namesFor(schema, table)
	if err != nil {
		return nil, err
	}
	ms, err := loadMigrations(n)
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(ms))
	for _, m := range ms {
		var b strings.Builder
		b.WriteString(bookkeepingSQL(n))
		b.WriteString(";\n\n")
		b.WriteString(strings.TrimSpace(m.sql))
		b.WriteString("\n\n-- Bookkeeping: the version, as Store.Migrate records it.\n")
		fmt.Fprintf(&b, "INSERT INTO %s (version, name, applied_at) VALUES (%d, '%s', now()) ON CONFLICT (version) DO NOTHING;\n",
			n.Migrations, m.version, m.name) // the name is an embedded file's name: [0-9a-z_.] only
		out = append(out, Migration{Version: m.version, Name: m.name, SQL: b.String()})
	}
	return out, nil
}

// bookkeepingSQL creates the schema and the table of applied versions if
// they are missing.
func bookkeepingSQL(n names) string {
	return `CREATE SCHEMA IF NOT EXISTS ` + n.Schema + `;
CREATE TABLE IF NOT EXISTS ` + n.Migrations + ` (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL
)`
}

// NotifyChannel returns the LISTEN/NOTIFY channel on which the outbox in
// schema and table signals new records: "outbound_" followed by the first
// 12 bytes, in hex, of the SHA-256 of "schema.table" (a plain identifier,
// short enough for any schema and table name). The insert trigger notifies
// it, with an empty payload, when a statement inserted at least one record;
// a process may LISTEN on it to wake as Store.Notify does. Empty schema or
// table mean the defaults; a name that is not a valid lower-case identifier
// gives an error wrapping ErrConfig.
func NotifyChannel(schema, table string) (string, error) {
	n, err := namesFor(schema, table)
	if err != nil {
		return "", err
	}
	return n.Channel, nil
}

// maxRoleLen is PostgreSQL's identifier limit (NAMEDATALEN-1 bytes).
const maxRoleLen = 63

// GrantSQL returns the GRANT statements that give role the least
// privileges a runtime role needs on the outbox in schema and table:
// USAGE on the schema; SELECT, INSERT, UPDATE and DELETE on the outbox's
// tables (records, keys, destinations) for enqueue, the dispatcher,
// redrive, operators and retention; SELECT on table_migrations, for
// Store.Migrate's read-only check and Store.SchemaVersion; USAGE on the
// sequence. It grants no CREATE: the role cannot create or alter tables,
// so an owner (or the migration tool) applies the migrations, and the
// role's Migrate succeeds when the schema is current and fails with an
// error wrapping ErrPrivilege when it is not. Run the statements as the
// owner after the migrations. role is quoted; an empty role, one longer
// than 63 bytes, or one with a NUL or invalid UTF-8 gives an error wrapping
// ErrConfig, as does an invalid schema or table name.
func GrantSQL(schema, table, role string) (string, error) {
	n, err := namesFor(schema, table)
	if err != nil {
		return "", err
	}
	if role == "" || len(role) > maxRoleLen || strings.ContainsRune(role, 0) || !utf8.ValidString(role) {
		return "", fmt.Errorf("%w: role %q must be 1 to %d bytes of UTF-8 without NUL", ErrConfig, role, maxRoleLen)
	}
	r := pgx.Identifier{role}.Sanitize()
	var b strings.Builder
	fmt.Fprintf(&b, "GRANT USAGE ON SCHEMA %s TO %s;\n", n.Schema, r)
	fmt.Fprintf(&b, "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %s TO %s;\n", strings.Join(n.dataTables(), ", "), r)
	fmt.Fprintf(&b, "GRANT SELECT ON TABLE %s TO %s;\n", n.Migrations, r)
	fmt.Fprintf(&b, "GRANT USAGE ON SEQUENCE %s TO %s;\n", strings.Join(n.sequences(), ", "), r)
	return b.String(), nil
}

// namesFor validates schema and table as Config does (empty means the
// default) and returns their names.
func namesFor(schema, table string) (names, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	if table == "" {
		table = DefaultTable
	}
	if !schemaName.MatchString(schema) {
		return names{}, fmt.Errorf("%w: schema %q must match %s", ErrConfig, schema, schemaName)
	}
	if !tableName.MatchString(table) {
		return names{}, fmt.Errorf("%w: table %q must match %s", ErrConfig, table, tableName)
	}
	return newNames(schema, table), nil
}
