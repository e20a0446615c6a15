// Package postgres is the PostgreSQL delivery.Store: the outbox that many
// service instances share, with records enqueued in the same transaction as
// the business data that produced them.
//
//	store, err := postgres.New(postgres.Config{Pool: pool})
//	err = store.Migrate(ctx) // idempotent; every instance may run it at boot
//	defer store.Close()
//
//	tx, _ := pool.Begin(ctx)
//	_, _ = tx.Exec(ctx, `UPDATE orders SET state = 'paid' WHERE id = $1`, id)
//	_, err = store.EnqueueTx(ctx, tx, delivery.Message{Key: id, Payload: body})
//	err = tx.Commit(ctx) // the record exists if and only if the order changed
//
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send})
//
// From database/sql (pgx's stdlib driver or lib/pq; sqlc and sqlx code
// hands over the same *sql.Tx), EnqueueSQLTx does the same:
//
//	tx, _ := db.BeginTx(ctx, nil)
//	_, _ = tx.ExecContext(ctx, `UPDATE orders SET state = 'paid' WHERE id = $1`, id)
//	_, err = store.EnqueueSQLTx(ctx, tx, delivery.Message{Key: id, Payload: body})
//	err = tx.Commit()
//
// It passes the conformance suite in package storetest against a real
// server.
//
// # Enqueue in the caller's transaction
//
// EnqueueTx (a pgx.Tx) and EnqueueSQLTx (a *sql.Tx) run the same
// statements as Enqueue, in the caller's transaction: the store never
// begins, commits or rolls back that transaction, the caller does. Records
// become visible when it commits, and dispatchers wake then (the insert
// trigger's NOTIFY is delivered at commit); if it rolls back, nothing is
// enqueued and nobody is woken. Through pgx the statements are pipelined,
// two round trips for any batch (a bulk batch written with COPY, below,
// too: its Seq values are drawn, then its rows copied); database/sql
// cannot pipeline, so EnqueueSQLTx sends them one by one (four to six
// round trips), and its
// array parameters travel as PostgreSQL array literals in text parameters,
// which any driver can send. A nil transaction, one already finished, or
// one on a database where the outbox does not exist gives a clear error,
// and nothing is enqueued. A handler that should be testable without a
// database depends on delivery.TxEnqueuer instead of the store (*Store is a
// delivery.TxEnqueuer[pgx.Tx]; delivery.TxEnqueuerFunc[*sql.Tx] adapts
// EnqueueSQLTx), and its tests pass a memstore.Store with its test
// transactions.
//
// # Bulk enqueue
//
// A batch of 64 or more new messages that need no lookup (none has an ID
// from the caller, an IdempotencyKey or a Key) can match no stored record
// and orders nothing, so Enqueue and EnqueueTx write it with COPY FROM
// instead of an INSERT: one pipelined round trip draws its Seq values,
// reads the statement's now and adds unknown destinations, then COPY
// writes the rows. The records, results, wake-up and destinations are those
// the INSERT writes; BenchmarkEnqueueBulk runs both paths side by side
// (about 1.1x the records per second at 64 a batch, 1.3-1.4x at 1,000).
// Any other batch, and every EnqueueSQLTx (database/sql cannot COPY), is
// inserted as before.
//
// # Schema
//
// Migrate creates, in Config.Schema (default "outbound"), the records table
// Config.Table (default "outbox"), a keys table (table_keys), a
// destinations table (table_destinations), a sequence (table_seq), the
// indexes and an insert trigger, from SQL embedded in the
// package and versioned in table_migrations. It runs in one transaction
// under pg_advisory_xact_lock, so instances booting together migrate once,
// and it upgrades an outbox made by an earlier version in place, applying
// only the versions it lacks: version 2 adds redriven_at (for
// delivery.Record.RedrivenAt), a catalog-only change; version 3 builds two
// partial indexes for Stats, which reads the table once and holds writes
// back meanwhile (about a second per million rows each; the migration file
// says how to build them beforehand with CREATE INDEX CONCURRENTLY);
// version 4 scopes idempotency to the destination, replacing the unique
// index on idempotency_key by one on (destination, idempotency_key) (an
// index build, like version 3's), and adds last_response (for
// delivery.Attempt.Response), a catalog-only change; version 5 adds the
// destinations table (filled from the live and dead records), scopes
// per-key ordering to (destination, key) (the keys table gains a
// destination column and is rebuilt, and the heads of keys shared by
// several destinations are recomputed), and replaces the claim and
// live-key indexes by ones led by the destination (index builds, like
// version 3's); version 6 adds trace_parent and trace_state (for
// delivery.Message.TraceParent and TraceState), a catalog-only change;
// version 7 adds history (jsonb, for
// delivery.Record.History), a catalog-only change; version 8 adds the
// destinations' rate limits, a catalog-only change; version 9 writes fewer
// index entries per record (for an unkeyed record, five on enqueue and
// four on claim, where version 8 wrote six on each): it adds one index of
// the pending records in Seq order, carrying their due and creation times
// (one index build, like version 3's), and drops the pending, live-age and
// global lease indexes, whose work Stats, List and NextDue now do through
// it and the per-destination lease index.
//
// The attempt history is appended and trimmed to Config.History by the
// same UPDATE that settles the attempt, so it costs no extra round trip;
// Claim does not return it (a worker never reads it), Get and List do.
//
// Schema and table names are validated as lower-case identifiers and
// quoted; every value travels as a query parameter.
//
// Teams that migrate with their own tool take the SQL from Migrations (or
// the outbound-schema command, which writes goose, golang-migrate, atlas
// or plain SQL files): each migration also creates table_migrations if
// missing and records its version there, which is all the bookkeeping
// Migrate does, so the two can be mixed. Migrate reads table_migrations
// before it locks or creates anything: a runtime role with GrantSQL's
// privileges (no CREATE) may call it at boot; it returns nil on a current
// schema and an error wrapping ErrPrivilege, naming the privilege and the
// migration, on an outdated one. Dispatchers LISTEN on NotifyChannel's
// channel, which the insert trigger notifies.
//
// # Destinations
//
// A destination is a row of the destinations table, shared by every
// process on the outbox: paused_until (NULL when active; still set while
// probing, once the pause has ended and before a probe succeeded),
// paused_since, pauses, disabled, cause, reason, max_in_flight,
// changed_at, and last_served for the claim's round robin. Enqueue and
// Redrive insert the row of a destination they have not seen (INSERT ...
// ON CONFLICT DO NOTHING; a store remembers the destinations whose row it
// saw committed and asks only for the others); settles never write it, so
// the hot paths pay nothing for it once a destination is known. PauseDestination, ResumeAfterProbe,
// ResumeDestination, DisableDestination and SetDestinationLimits are
// single-row writes (a pause with a Length is two statements in one
// transaction: it counts the pause, then sets the end the count gives);
// a pause, a disable or a limit survives a restart of every process.
// Destinations counts the live and dead records per destination in one
// pass over those records (not the delivered history) and joins the
// stored state; Cancel and RetryNow lock the records, check them, then act,
// all or nothing, like Redrive.
//
// # Claiming and per-key ordering
//
// Each live record carries an is_head flag: true when it is the lowest-Seq
// live record of its (destination, key) (always, for records without a
// key). Per-key ordering is scoped to the destination: one event fanned
// out to three partners under one Key makes none of them wait for another.
//
// A claim is one round trip: two statements in one pipelined batch, which
// PostgreSQL runs as one transaction. The first locks, FOR UPDATE SKIP
// LOCKED, the rows of the destinations whose leases must be counted (a
// MaxInFlight, or probing) that have due records and room, least recently
// served first, and marks them with the claim's token; the second, whose
// snapshot is taken after those locks and so sees every lease committed
// before them, counts their unexpired leases again and never exceeds the
// bound (or one probe), while claims of unbounded destinations never
// serialise. The second statement takes up to limit destinations with due
// records (paused and disabled ones never, nor those in the claim's skip
// list), least recently served first; from each, its due records through
// partial indexes led by the destination, (destination, next_attempt_at,
// seq) WHERE pending AND is_head, and (destination, lease_expires_at)
// WHERE in flight for expired leases, locked FOR UPDATE SKIP LOCKED; and
// hands them out round by round (every destination's oldest due record,
// then every destination's second, ...), at most limit - (destinations -
// 1) from one destination, limit in all, stamping the destinations served
// as served last (when it had more than one to choose from, so a single
// destination's claims write nothing to its row): fair across
// destinations, oldest due first within one.
// No lock outlives the claim. A record waiting to retry stays head of its
// key, so the records behind it are never looked at; a million-row backlog
// behind a few keys costs the claim nothing. The claim's cost grows with
// limit and with the number of destinations it checks for due work (one
// index probe each, in round-robin order, until it has limit of them), not
// with the backlog; TestClaimPlanAcrossDestinations checks the plans with
// 100,000 pending records over 1,000 destinations. The flag is maintained in the same transaction as every
// write that changes a key's queue: enqueue sets it on the first record of
// an empty key; complete, dead-letter and discard promote the next record
// of the key; redrive puts records at the back with a new Seq.
//
// Those writes serialise per (destination, key) on its row in the keys
// table, which also counts its live records: enqueue locks it with INSERT ... ON
// CONFLICT DO UPDATE, settles with UPDATE, and each decides under the lock.
// This holds even for EnqueueTx in a caller's REPEATABLE READ transaction
// (where a later statement's snapshot could not see a concurrent commit):
// the count lives in the locked row itself, and PostgreSQL reports a
// serialization failure rather than let a stale snapshot decide. The price
// is that a long caller transaction holding a key delays other enqueues
// and settles of that key (only that key) until it ends.
//
// Every settle is one UPDATE guarded by id, lease token and state; zero
// rows is told apart as delivery.ErrNotFound or delivery.ErrLeaseLost in the
// same statement. Settles that end a record also promote the next head of
// its key in a second statement sent in the same round trip.
//
// # Group commit
//
// Settles made at the same time share a transaction. A settle that finds
// none in progress is sent at once, alone, so a single worker waits for
// nobody; settles that arrive meanwhile queue, and the next flush sends up
// to 128 of them as one pipelined batch with one commit, each with its own
// result (ErrLeaseLost and ErrNotFound per record, promotion per key as
// above). Its reschedules and releases go as their own statements; its
// terminal settles (Complete, DeadLetter, Discard) go as one UPDATE over
// arrays of their values, guarded per record as above, then one
// promotion of the ended keys' next heads: two statements for the lot,
// which cut what PostgreSQL spends executing a settle by over a quarter.
// If a flush fails (an error, a deadlock, a
// lock wait of over 100ms, which it gives up so that one busy key cannot
// hold up every settle) each of its settles runs again on its own. A
// caller whose context ends while it waits returns at once; if its settle
// was already being sent it may still commit, as any settle whose context
// ends mid-commit may. No goroutine outlives the queue: nothing to Close.
//
// Statements whose best plan depends on the table's size (the enqueue
// lookup of a batch's ids, List, Purge, Redrive) run with plan_cache_mode =
// force_custom_plan, set locally and put back at once, so a generic plan
// that pgx's prepared statement made while the outbox was small never scans
// it once it is large. Claim and the settles keep cached plans: primary-key
// equality and partial indexes read in ORDER BY ... LIMIT order stay index
// plans at any size, and planning them on every call would cost about a
// third of their throughput. TestNoSequentialScansAfterGrowth checks both.
//
// # Clocks
//
// Leases and due times are compared on the database server's clock, so
// instances whose clocks disagree share one outbox safely. Every statement
// that writes or compares a time takes its "now" from the server's now()
// (the start of its transaction): a claim's lease runs until that now plus
// the lease, and it takes over an in-flight record whose lease ended at or
// before it; a record is due when its next_attempt_at is at or before it;
// enqueue, settle and redrive stamp their rows with it. The times a caller
// hands in are on the caller's clock (time.Now): Reschedule's next, Purge's
// before and Filter.UpdatedBefore are turned into their distance from the
// caller's now, which is added to the server's now, so a retry due "in one
// minute" is due one minute later by the server's clock whichever host
// scheduled it. NextDue turns the server's time back into the caller's
// clock the same way, and Stats measures ages on the server's clock.
//
// So a host whose clock is off by d, even by minutes, neither takes over
// live leases nor claims retries early (without this, a host three minutes
// ahead took over another's two-minute lease at once, and the record was
// sent twice). What it still gets wrong is its own reading of the times it
// is given: the record times the store returns (NextAttemptAt,
// LeaseExpiresAt, UpdatedAt, RedrivenAt, and CreatedAt when the store set
// it) are the server's, so a dispatcher on that host measures a policy's
// MaxElapsed off by d. The server's clock needs no agreement with the
// hosts'; only a jump in it (someone setting it by hand) moves every lease
// and due time at once.
//
// Config.Now opts out: when it is set, that clock is read for every time
// the store writes or compares and the server's is never used; every
// instance sharing the outbox then needs a synchronised clock. It is meant
// for tests that drive a store with a manual clock (package storetest).
//
// Fleet-wide rate limits (DestinationLimits.Rate and Burst) are GCRA
// (delivery.GCRA) on the destination's row: rate, burst and rate_tat, the
// theoretical arrival time. Claim reads and advances rate_tat in the same
// statements that count the destination's leases, under the row lock the
// first of them takes, and on the server's clock: so any number of
// instances grant at most Burst + Rate·t records in any span t between
// them, whatever their clocks say (TestRateHoldsAcrossProcessesWithClockSkew
// runs three with clocks 200ms apart). With Config.Now set, each instance
// reads its own clock instead, and a skew of d between two of them can let
// up to Rate·d more through. No lock is held across an attempt: the
// claim's transaction ends when it returns.
//
// # Redrive
//
// Redrive(ids...) is one transaction, all or nothing, as the Store contract
// says. RedriveMatching may match millions of dead records after a long
// partner outage, so it works in batches of 1000, each its own
// transaction: the next matching records in Seq order from the dead-record
// index, locked with FOR UPDATE SKIP LOCKED, moved and committed before the
// next batch is read. Locks and memory stay bounded and dispatchers start
// on the first batch while later ones are still moving; on an error the
// batches already committed stay redriven and the count says how many.
//
// # Wake-ups
//
// A statement-level AFTER INSERT trigger calls pg_notify when a statement
// inserted at least one row; updates never notify, so a dispatcher's own
// writes cannot wake it (Redrive, an operator's action, notifies
// explicitly). NOTIFY is delivered at commit: a rolled-back EnqueueTx wakes
// nobody. Notify starts a listener on a dedicated connection outside the
// pool that reconnects by itself with backoff and signals every
// Config.PollInterval while it is down, so dispatchers fall back to polling.
//
// Retries and expiring leases wake nobody; instead NextDue
// (delivery.NextDuer) tells a dispatcher when the next record becomes
// claimable: per destination, the first entry of the claim index (its
// earliest pending head), or the end of its pause if later (disabled
// destinations and those at their MaxInFlight are left out), and per
// destination the first entry of the lease index (the earliest lease
// expiry), in one round trip,
// so every instance sleeps until exactly then and sees the schedules and
// pauses other instances wrote. Its cost grows with the number of
// destinations (two index-only probes each).
//
// # Retention
//
// Delivered and discarded rows stay until purged: Purge deletes a bounded
// batch, oldest first, through a partial index; a Retention runs it
// periodically. Dead records are kept until redriven.
//
// # Costs
//
// Enqueue is a transaction of at most two pipelined round trips for any
// batch size (a bulk batch written with COPY: its Seq values are drawn,
// then its rows copied);
// Claim is one round trip for up to limit records; a settle is one round
// trip and one commit, shared by every settle that queued behind the
// previous flush (see Group commit), so concurrent workers pay one commit
// (fsync) per flush rather than one per record. List pages by Seq.
// A claim's commit waits for its fsync too, unless Config.AsyncClaimCommit
// trades that for speed (its doc says what a server crash then costs).
//
// # Stats
//
// Stats never scans the table (it reads partial indexes, and heap rows
// only where an index-only scan meets recently changed pages or to split at
// most 10,001 settled records by state), so it costs the same with a
// million delivered rows retained as with none; it runs every
// StatsInterval on every instance that exports metrics. Pending, in-flight and dead records
// are counted exactly through partial indexes (index-only scans: the
// pending count costs tens of milliseconds per million pending records),
// and the ages of the oldest live and the longest-due pending record come
// from the same scans: the pending index carries the records' creation
// and due times, and the in-flight rows, as many as the workers holding
// them, are read. Delivered and discarded records are counted exactly up to
// 10,000 of them together; beyond that they are ESTIMATED from PostgreSQL's
// table statistics (the live-row count less the exact counts, split by
// ANALYZE's sample of the state column), typically within a few percent.
// The live-row count comes from PostgreSQL's statistics system, which each
// backend updates lazily (PostgreSQL 15: at most once a second when idle):
// inserts counted after a VACUUM that already saw them are counted twice
// until the next VACUUM or ANALYZE, so right after bulk loads the estimate
// can be high. See Store.Stats.
//
// # Tests and benchmarks
//
// The tests run against the server in OUTBOUND_POSTGRES_URL, each in a
// schema of its own that is dropped afterwards. The EXPLAIN test (claim,
// settle, NextDue and Stats plans) and BenchmarkClaimBacklog use a
// 100,000- and 1,000-row backlog by default, BenchmarkStatsBacklog 1,000
// pending and 1,000 delivered; OUTBOUND_BENCH_LARGE=1 makes them 1,000,000
// pending rows (plus 500,000 delivered; 1,000,000 for Stats), generated by
// INSERT ... SELECT generate_series:
//
//	OUTBOUND_BENCH_LARGE=1 go test -run ClaimPlan -v ./delivery/postgres/
//	OUTBOUND_BENCH_LARGE=1 go test -run XXX -bench 'ClaimBacklog|StatsBacklog' ./delivery/postgres/
package postgres
