package postgres

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The enqueue SQL runs in a transaction the store may not have begun: its
// own (Enqueue), a caller's pgx.Tx (EnqueueTx) or a caller's *sql.Tx
// (EnqueueSQLTx, with pgx's stdlib driver or lib/pq). One implementation
// of the statements runs over all of them through txRunner, which only
// sends statements: it never begins, commits or rolls back.

// stmt is one statement of a round trip: its SQL, its arguments and, for a
// statement whose rows matter, what to do with each row.
type stmt struct {
	sql  string
	args []any
	row  func(pgx.Row) error // nil: the statement's rows, if any, are discarded
}

// txRunner sends statements, in order, in a transaction; the first error
// ends the run.
type txRunner interface {
	run(ctx context.Context, stmts ...stmt) error
}

// pgxRunner sends the statements as one pipelined batch: one round trip.
type pgxRunner struct{ q querier }

func (r pgxRunner) run(ctx context.Context, stmts ...stmt) error {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	br := r.q.SendBatch(ctx, b)
	for _, st := range stmts {
		if err := pgxResult(br, st); err != nil {
			_ = br.Close()
			return err
		}
	}
	return br.Close()
}

func pgxResult(br pgx.BatchResults, st stmt) error {
	if st.row == nil {
		_, err := br.Exec()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := st.row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqlRunner sends the statements one by one through database/sql, which
// cannot pipeline them. Arrays travel as PostgreSQL array literals in text
// parameters, which the statements cast (the same SQL as pgx's binary
// arrays), since database/sql drivers other than pgx's cannot encode Go
// slices; JSON columns are decoded here for the same reason.
type sqlRunner struct{ tx *sql.Tx }

func (r sqlRunner) run(ctx context.Context, stmts ...stmt) error {
	for _, st := range stmts {
		args := make([]any, len(st.args))
		for i, a := range st.args {
			args[i] = sqlParam(a)
		}
		if st.row == nil {
			if _, err := r.tx.ExecContext(ctx, st.sql, args...); err != nil {
				return err
			}
			continue
		}
		rows, err := r.tx.QueryContext(ctx, st.sql, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := st.row(sqlRow{rows}); err != nil {
				_ = rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// sqlRow scans a database/sql row into the destinations pgx would fill,
// decoding JSON objects itself.
type sqlRow struct{ rows *sql.Rows }

func (r sqlRow) Scan(dest ...any) error {
	for i, d := range dest {
		if m, ok := d.(*map[string]string); ok {
			dest[i] = jsonObject{m}
		}
	}
	return r.rows.Scan(dest...)
}

// jsonObject scans a JSON object column (NULL leaves the map nil).
type jsonObject struct{ m *map[string]string }

func (j jsonObject) Scan(src any) error {
	*j.m = nil
	var b []byte
	switch v := src.(type) {
	case nil:
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("postgres: scan JSON object from %T", src)
	}
	return json.Unmarshal(b, j.m)
}

// sqlParam turns the argument types the enqueue statements use into ones
// every database/sql driver accepts: slices become array literals.
func sqlParam(a any) any {
	switch v := a.(type) {
	case []string:
		return arrayLiteral(len(v), func(i int) (string, bool) { return v[i], true })
	case []*string:
		return arrayLiteral(len(v), func(i int) (string, bool) {
			if v[i] == nil {
				return "", false
			}
			return *v[i], true
		})
	case [][]byte:
		return arrayLiteral(len(v), func(i int) (string, bool) { return `\x` + hex.EncodeToString(v[i]), true })
	case []*time.Time:
		return arrayLiteral(len(v), func(i int) (string, bool) {
			if v[i] == nil {
				return "", false
			}
			return v[i].Format(time.RFC3339Nano), true
		})
	case []bool:
		return arrayLiteral(len(v), func(i int) (string, bool) {
			if v[i] {
				return "t", true
			}
			return "f", true
		})
	case *time.Time:
		if v == nil {
			return nil
		}
		return *v
	}
	return a
}

// arrayLiteral writes a one-dimensional PostgreSQL array literal of n
// elements, each quoted (element returns false for NULL).
func arrayLiteral(n int, element func(i int) (string, bool)) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		s, ok := element(i)
		if !ok {
			b.WriteString("NULL")
			continue
		}
		b.WriteByte('"')
		for _, c := range []byte(s) {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
