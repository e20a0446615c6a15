package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/outbound-go/outbound/delivery"
)

// EnqueueSQLTx is Enqueue within the caller's transaction on the outbox's
// file (a *sql.DB given to OpenDB, or another handle on the same file): the
// records commit or roll back with the caller's own writes. The store never
// begins, commits or rolls back tx. Messages are validated first (an error
// wraps delivery.ErrInvalid and nothing is written), duplicates come back
// with Existing set, a mismatch is an error wrapping delivery.ErrConflict;
// after any error the caller rolls tx back.
//
// The store cannot see the commit, so it signals no Notify: dispatchers
// find the committed records at their next poll
// (delivery.DispatcherConfig.PollInterval), and a rolled-back transaction
// wakes nobody. Begin tx as a write transaction (a DSN with
// _txlock=immediate): a deferred transaction that read before this write
// may fail with SQLITE_BUSY when another connection wrote meanwhile.
//
// A nil tx is an error wrapping delivery.ErrInvalid; a transaction already
// committed or rolled back gives an error wrapping sql.ErrTxDone; a
// transaction on another database file is an error wrapping
// delivery.ErrInvalid. Nothing is written in any of
// these cases. Use delivery.TxEnqueuerFunc[*sql.Tx](store.EnqueueSQLTx)
// where a delivery.TxEnqueuer is wanted.
func (s *Store) EnqueueSQLTx(ctx context.Context, tx *sql.Tx, msgs ...delivery.Message) ([]delivery.Enqueued, error) {
	if tx == nil {
		return nil, fmt.Errorf("sqlite: enqueue: nil transaction: %w", delivery.ErrInvalid)
	}
	prepared, err := prepare(ctx, msgs)
	if err != nil {
		return nil, err
	}
	file, err := mainFile(ctx, tx)
	if err != nil {
		if errors.Is(err, sql.ErrTxDone) {
			return nil, fmt.Errorf("sqlite: enqueue: %w", err)
		}
		return nil, fmt.Errorf("sqlite: enqueue: the transaction is not on a SQLite database: %v: %w", err, delivery.ErrInvalid)
	}
	if file != s.file {
		return nil, fmt.Errorf("sqlite: enqueue: the transaction is on database %q, the outbox is in %q: %w", file, s.file, delivery.ErrInvalid)
	}
	out, _, err := s.enqueueIn(ctx, tx, prepared)
	if err != nil {
		return nil, err
	}
	return out, nil
}
