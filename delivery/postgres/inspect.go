package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Get implements delivery.Store.
func (s *Store) Get(ctx context.Context, id string) (delivery.Record, error) {
	if !storable(id) {
		return delivery.Record{}, fmt.Errorf("postgres: record %q: %w", id, delivery.ErrNotFound)
	}
	rows, err := s.pool.Query(ctx, s.q.get, id)
	if err != nil {
		return delivery.Record{}, fmt.Errorf("postgres: get %q: %w", id, err)
	}
	recs, err := collectRecords(rows)
	if err != nil {
		return delivery.Record{}, fmt.Errorf("postgres: get %q: %w", id, err)
	}
	if len(recs) == 0 {
		return delivery.Record{}, fmt.Errorf("postgres: record %q: %w", id, delivery.ErrNotFound)
	}
	return recs[0], nil
}

// List implements delivery.Store. The cursor is the last Seq of the
// previous page, so pages stay consistent while records are added.
func (s *Store) List(ctx context.Context, opts delivery.ListOptions) (delivery.Page, error) {
	limit := opts.Limit
	if limit == 0 {
		limit = delivery.DefaultPageSize
	}
	if limit < 0 || limit > delivery.MaxPageSize {
		return delivery.Page{}, fmt.Errorf("postgres: list limit %d outside 1..%d: %w", opts.Limit, delivery.MaxPageSize, delivery.ErrInvalid)
	}
	if opts.State != 0 && !opts.State.Valid() {
		return delivery.Page{}, fmt.Errorf("postgres: list state %v: %w", opts.State, delivery.ErrInvalid)
	}
	if !storable(opts.Key) {
		return delivery.Page{}, fmt.Errorf("postgres: list key %q is not valid text: %w", opts.Key, delivery.ErrInvalid)
	}
	var after int64
	if opts.After != "" {
		n, err := strconv.ParseInt(opts.After, 10, 64)
		if err != nil || n < 0 {
			return delivery.Page{}, fmt.Errorf("postgres: list cursor %q: %w", opts.After, delivery.ErrInvalid)
		}
		after = n
	}
	recs, err := queryRecords(ctx, s.pool, s.q.list, after, int16(opts.State), opts.Key, limit+1)
	if err != nil {
		return delivery.Page{}, fmt.Errorf("postgres: list: %w", err)
	}
	var page delivery.Page
	if len(recs) > limit {
		recs = recs[:limit]
		page.Next = strconv.FormatInt(recs[limit-1].Seq, 10)
	}
	page.Records = recs
	return page, nil
}

// Stats implements delivery.Store. It reads the whole table in one pass
// (a sequential scan), so on a table with millions of retained rows it
// takes a noticeable fraction of a second: call it at a metrics-scrape
// interval, not per record.
func (s *Store) Stats(ctx context.Context) (delivery.Stats, error) {
	now := ts(s.now())
	var st delivery.Stats
	var oldestCreated, oldestDue *time.Time
	err := s.pool.QueryRow(ctx, s.q.stats, now).Scan(
		&st.Counts[delivery.StatePending], &st.Counts[delivery.StateInFlight],
		&st.Counts[delivery.StateDelivered], &st.Counts[delivery.StateDead],
		&st.Counts[delivery.StateDiscarded], &oldestCreated, &oldestDue)
	if err != nil {
		return delivery.Stats{}, fmt.Errorf("postgres: stats: %w", err)
	}
	if oldestCreated != nil {
		st.OldestPending = max(0, now.Sub(*oldestCreated))
	}
	if oldestDue != nil {
		st.OldestDue = max(0, now.Sub(*oldestDue))
	}
	return st, nil
}

// Purge implements delivery.Store. Each call deletes at most limit rows in
// one statement, oldest update first, through a partial index of delivered
// and discarded rows, skipping rows another purge has locked; call it in a
// loop (or run a Retention) to clear a large backlog in small batches.
func (s *Store) Purge(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("postgres: purge limit %d: %w", limit, delivery.ErrInvalid)
	}
	tag, err := exec(ctx, s.pool, s.q.purge, ts(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
