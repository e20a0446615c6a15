package delivery

import "context"

// TxEnqueuer enqueues messages within a caller's transaction of type Tx, so
// the records commit or roll back with the caller's own writes (the
// transactional outbox). It is the seam a handler depends on: production
// passes the PostgreSQL store (*postgres.Store is a TxEnqueuer[pgx.Tx]; for
// database/sql, TxEnqueuerFunc[*sql.Tx](store.EnqueueSQLTx)), and the
// handler's tests pass a memstore.Store with its test transactions
// (*memstore.Store is a TxEnqueuer[*memstore.Tx]), no database needed.
//
// An implementation never begins, commits or rolls back tx. The records
// become visible, and dispatchers are woken, only when tx commits; if tx
// rolls back, nothing is enqueued. Semantics are otherwise those of
// Store.Enqueue: messages are validated first (an error wraps ErrInvalid
// and nothing is enqueued), duplicates are returned with Existing set, and
// a mismatch is an error wrapping ErrConflict. After any error the caller
// rolls tx back.
type TxEnqueuer[Tx any] interface {
	EnqueueTx(ctx context.Context, tx Tx, msgs ...Message) ([]Enqueued, error)
}

// TxEnqueuerFunc adapts a function to a TxEnqueuer, for stores whose
// transactional enqueue has another name, such as
// TxEnqueuerFunc[*sql.Tx](store.EnqueueSQLTx).
type TxEnqueuerFunc[Tx any] func(ctx context.Context, tx Tx, msgs ...Message) ([]Enqueued, error)

// EnqueueTx calls f and returns what it returns.
func (f TxEnqueuerFunc[Tx]) EnqueueTx(ctx context.Context, tx Tx, msgs ...Message) ([]Enqueued, error) {
	return f(ctx, tx, msgs...)
}
