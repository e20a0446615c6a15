// Command outbound-schema prints the SQL of the outbound PostgreSQL
// outbox, rendered for a schema and table, for teams that migrate with
// their own tool instead of calling Store.Migrate at boot.
//
//	outbound-schema -format goose -dir db/migrations        # 0001_init.sql ... for goose
//	outbound-schema -format migrate -dir db/migrations      # 0001_init.up.sql ... for golang-migrate
//	outbound-schema -format atlas -dir db/migrations        # then: atlas migrate hash
//	outbound-schema -format sql > outbox.sql                # one script: psql -1 -f outbox.sql
//	outbound-schema -grant app_runtime                      # the GRANTs for a runtime role
//	outbound-schema -channel                                # the LISTEN/NOTIFY channel name
//
// -schema and -table name the outbox (defaults "outbound" and "outbox"),
// as postgres.Config does. Without -dir the files are printed one after
// the other, each under a "-- file: NAME" line. Every migration records its
// version in the outbox's table_migrations, so Store.SchemaVersion and a
// runtime role's Store.Migrate see it applied. The files are what
// postgres.Migrations returns; see its documentation.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/outbound-go/outbound/delivery/postgres"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "outbound-schema:", err)
		os.Exit(2)
	}
}

// file is one output file: its name and its text.
type file struct{ name, text string }

// run parses args and writes the requested SQL to stdout (or to files in
// -dir); usage and flag errors go to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("outbound-schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "sql", "goose, migrate (golang-migrate), atlas or sql")
	schema := fs.String("schema", postgres.DefaultSchema, "the outbox's schema")
	table := fs.String("table", postgres.DefaultTable, "the outbox's table")
	dir := fs.String("dir", "", "write one file per migration into this existing directory instead of printing them")
	grant := fs.String("grant", "", "print the GRANT statements for this runtime role instead of the migrations")
	channel := fs.Bool("channel", false, "print the LISTEN/NOTIFY channel name instead of the migrations")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case *channel:
		c, err := postgres.NotifyChannel(*schema, *table)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, c)
		return err
	case *grant != "":
		g, err := postgres.GrantSQL(*schema, *table, *grant)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, g)
		return err
	}
	ms, err := postgres.Migrations(*schema, *table)
	if err != nil {
		return err
	}
	files, err := render(*format, ms)
	if err != nil {
		return err
	}
	if *dir == "" {
		for _, f := range files {
			if _, err := fmt.Fprintf(stdout, "-- file: %s\n%s\n", f.name, f.text); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range files {
		p := filepath.Join(*dir, f.name)
		if err := os.WriteFile(p, []byte(f.text), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "wrote", p)
	}
	return nil
}

// render lays the migrations out as format's files.
func render(format string, ms []postgres.Migration) ([]file, error) {
	var out []file
	switch format {
	case "goose":
		// One statement block per file, which goose runs in a transaction.
		for _, m := range ms {
			out = append(out, file{m.Name, "-- +goose Up\n-- +goose StatementBegin\n" + m.SQL + "-- +goose StatementEnd\n"})
		}
	case "migrate":
		// golang-migrate runs a file as it is, outside a transaction.
		for _, m := range ms {
			out = append(out, file{strings.TrimSuffix(m.Name, ".sql") + ".up.sql", "BEGIN;\n\n" + m.SQL + "\nCOMMIT;\n"})
		}
	case "atlas":
		// Atlas runs each file in a transaction; `atlas migrate hash`
		// writes the atlas.sum it requires.
		for _, m := range ms {
			out = append(out, file{m.Name, m.SQL})
		}
	case "sql":
		var b strings.Builder
		for _, m := range ms {
			fmt.Fprintf(&b, "-- %s\n%s\n", m.Name, m.SQL)
		}
		out = append(out, file{"outbox.sql", b.String()})
	default:
		return nil, fmt.Errorf("-format %q: want goose, migrate, atlas or sql", format)
	}
	return out, nil
}
