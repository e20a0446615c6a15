package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/outbound-go/outbound/delivery/sqlite"
)

// openSQLite is outbound's SQLite store in a new file in a temporary
// directory (the url is not used), worked by the same dispatcher as
// openOutbound: the durable row of a service without a database server.
func openSQLite(ctx context.Context, _ string) (Queue, error) {
	dir, err := os.MkdirTemp("", "bench-sqlite-")
	if err != nil {
		return nil, err
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "outbox.db")})
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	return &sqliteQueue{storeQueue: storeQueue{store: s}, s: s, dir: dir}, nil
}

// sqliteQueue is a storeQueue on a SQLite file.
type sqliteQueue struct {
	storeQueue
	s   *sqlite.Store
	dir string
}

func (q *sqliteQueue) Close(context.Context) error {
	return errors.Join(q.s.Close(), os.RemoveAll(q.dir))
}
