package postgres

import (
	"strconv"
	"strings"
)

// queries holds every SQL statement of one outbox, rendered once in New
// from quoted identifiers. Values always travel as parameters. Partial
// index predicates (state = 1 AND is_head, ...) are written as literals so
// the planner can match them for every parameter value.
type queries struct {
	existing, lockKeys, insert, dropIdleKeys, promoteKeys string

	claim string

	settleTerminal, promoteAfter                   string
	rescheduleAttempt, rescheduleDeferral, release string

	lockForRedrive, matchDead, maxSeq, nextSeqs, redrive, addLive, notify string

	get, list, stats, purge string

	nextDue string
}

// nowParam is a statement's "now": parameter $i, or the database's now()
// when it is NULL (see clock.go). Times later or earlier than now travel as
// intervals added to it.
func nowParam(i int) string { return "coalesce($" + strconv.Itoa(i) + "::timestamptz, now())" }

func buildQueries(n names) queries {
	r := strings.NewReplacer("{T}", n.Table, "{K}", n.Keys, "{SEQ}", "'"+n.SeqName+"'", "{COLS}", recordColumns,
		"{NOW1}", nowParam(1), "{NOW3}", nowParam(3), "{NOW4}", nowParam(4), "{NOW8}", nowParam(8),
		"{NOW9}", nowParam(9), "{NOW10}", nowParam(10))
	q := func(s string) string { return r.Replace(s) }
	tcols := "t." + strings.ReplaceAll(strings.Join(strings.Fields(recordColumns), " "), ", ", ", t.")
	return queries{
		// Two index probes, not an OR a cached generic plan might turn
		// into a scan.
		// Idempotency is scoped to (destination, idempotency_key): the
		// second probe reads the unique index on that pair.
		existing: q(`SELECT {COLS} FROM {T} WHERE id = ANY($1::text[])
UNION ALL
SELECT ` + tcols + ` FROM unnest($2::text[], $3::text[]) AS u(dest, idem)
JOIN {T} AS t ON t.destination = u.dest AND t.idempotency_key = u.idem
WHERE NOT t.id = ANY($1::text[])`),

		// Locks the rows of the given distinct, sorted keys (creating them
		// at zero) and returns how many records of each are live.
		lockKeys: q(`INSERT INTO {K} AS k (key, live)
SELECT u.key, 0 FROM unnest($1::text[]) AS u(key) ORDER BY u.key
ON CONFLICT (key) DO UPDATE SET live = k.live
RETURNING k.key, k.live`),

		insert: q(`WITH ins AS (
	INSERT INTO {T} (id, seq, key, destination, payload, headers, idempotency_key, correlation_id,
		created_at, state, is_head, next_attempt_at, updated_at)
	SELECT u.id, nextval({SEQ}), u.key, u.dest, u.payload, u.headers::jsonb, u.idem, u.corr,
		coalesce(u.created, {NOW10}), 1, u.head, {NOW10}, {NOW10}
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[],
		$8::timestamptz[], $9::boolean[]) WITH ORDINALITY AS u(id, key, dest, payload, headers, idem, corr, created, head, ord)
	ORDER BY u.ord
	ON CONFLICT DO NOTHING
	RETURNING id, key, seq, created_at, next_attempt_at
), cnt AS (
	SELECT key, count(*) AS c FROM ins WHERE key <> '' GROUP BY key
), upd AS (
	UPDATE {K} AS k SET live = k.live + cnt.c FROM cnt WHERE k.key = cnt.key
)
SELECT id, seq, created_at, next_attempt_at FROM ins`),

		dropIdleKeys: q(`DELETE FROM {K} WHERE key = ANY($1::text[]) AND live = 0`),

		// Makes the lowest-seq live record of each key its head. Callers
		// hold the keys' rows locked.
		promoteKeys: q(`UPDATE {T} AS t SET is_head = true
FROM unnest($1::text[]) AS u(key)
CROSS JOIN LATERAL (
	SELECT o.id FROM {T} o WHERE o.key = u.key AND o.key <> '' AND o.state IN (1, 2) ORDER BY o.seq LIMIT 1
) AS h
WHERE t.id = h.id AND NOT t.is_head`),

		claim: q(`WITH pend AS MATERIALIZED (
	SELECT id, next_attempt_at, seq FROM {T}
	WHERE state = 1 AND is_head AND next_attempt_at <= {NOW1}
	ORDER BY next_attempt_at, seq LIMIT $2
	FOR UPDATE SKIP LOCKED
), expired AS MATERIALIZED (
	SELECT id, next_attempt_at, seq FROM {T}
	WHERE state = 2 AND lease_expires_at <= {NOW1}
	ORDER BY next_attempt_at, seq LIMIT $2
	FOR UPDATE SKIP LOCKED
), pick AS (
	SELECT c.id FROM (SELECT * FROM pend UNION ALL SELECT * FROM expired) AS c
	ORDER BY c.next_attempt_at, c.seq LIMIT $2
)
UPDATE {T} AS t SET state = 2, lease_token = $3, lease_expires_at = {NOW1} + $4::interval, updated_at = {NOW1}
FROM pick WHERE t.id = pick.id
RETURNING ` + tcols),

		// Moves a claimed record to a terminal state and takes it out of
		// its key's live count (locking the key's row).
		settleTerminal: q(`WITH s AS (
	UPDATE {T} SET state = $3, attempts = attempts + 1, last_started_at = $4, last_duration_ns = $5,
		last_status = $6, last_class = $7, last_error = $8, duplicate = $9, last_response = $11,
		lease_token = NULL, lease_expires_at = NULL, is_head = false, updated_at = {NOW10}
	WHERE id = $1 AND lease_token = $2 AND state = 2
	RETURNING key
), k AS (
	UPDATE {K} SET live = live - 1 WHERE key = (SELECT s.key FROM s WHERE s.key <> '')
)
SELECT (SELECT count(*) FROM s), EXISTS (SELECT 1 FROM {T} WHERE id = $1)`),

		// Runs after settleTerminal, as its own statement so that it sees
		// every record committed before the key's row was locked: drops
		// the key if nothing of it is live, else promotes its next head.
		// Idempotent, so it is harmless when the settle changed nothing.
		promoteAfter: q(`WITH k AS (
	SELECT key FROM {T} WHERE id = $1 AND key <> '' AND state >= 3
), gone AS (
	DELETE FROM {K} WHERE key = (SELECT k.key FROM k) AND live = 0
), h AS (
	SELECT n.id FROM k CROSS JOIN LATERAL (
		SELECT o.id FROM {T} o WHERE o.key = k.key AND o.key <> '' AND o.state IN (1, 2) ORDER BY o.seq LIMIT 1
	) AS n
)
UPDATE {T} AS t SET is_head = true FROM h WHERE t.id = h.id AND NOT t.is_head`),

		rescheduleAttempt: q(`WITH s AS (
	UPDATE {T} SET state = 1, next_attempt_at = {NOW9} + $3::interval, attempts = attempts + 1, last_started_at = $4,
		last_duration_ns = $5, last_status = $6, last_class = $7, last_error = $8, last_response = $10,
		lease_token = NULL, lease_expires_at = NULL, updated_at = {NOW9}
	WHERE id = $1 AND lease_token = $2 AND state = 2
	RETURNING 1
)
SELECT (SELECT count(*) FROM s), EXISTS (SELECT 1 FROM {T} WHERE id = $1)`),

		rescheduleDeferral: q(`WITH s AS (
	UPDATE {T} SET state = 1, next_attempt_at = {NOW4} + $3::interval, deferrals = deferrals + 1,
		lease_token = NULL, lease_expires_at = NULL, updated_at = {NOW4}
	WHERE id = $1 AND lease_token = $2 AND state = 2
	RETURNING 1
)
SELECT (SELECT count(*) FROM s), EXISTS (SELECT 1 FROM {T} WHERE id = $1)`),

		release: q(`WITH s AS (
	UPDATE {T} SET state = 1, next_attempt_at = {NOW3}, lease_token = NULL, lease_expires_at = NULL, updated_at = {NOW3}
	WHERE id = $1 AND lease_token = $2 AND state = 2
	RETURNING 1
)
SELECT (SELECT count(*) FROM s), EXISTS (SELECT 1 FROM {T} WHERE id = $1)`),

		lockForRedrive: q(`SELECT id, key, state, seq FROM {T} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`),

		// One batch of RedriveMatching: the next $7 matching dead records
		// after seq $5 and up to seq $6, read in seq order from the dead
		// index. Rows another redrive holds are skipped, not waited for.
		matchDead: q(`SELECT id, key, state, seq FROM {T}
WHERE state = 4 AND seq > $5 AND seq <= $6
	AND ($1::text = '' OR key = $1)
	AND ($2::text = '' OR destination = $2)
	AND (cardinality($3::smallint[]) = 0 OR last_class = ANY($3::smallint[]))
	AND ($4::interval IS NULL OR updated_at < {NOW8} + $4::interval)
ORDER BY seq LIMIT $7
FOR UPDATE SKIP LOCKED`),

		maxSeq: q(`SELECT coalesce(max(seq), 0) FROM {T}`),

		nextSeqs: q(`SELECT nextval({SEQ}) FROM generate_series(1, $1::integer)`),

		redrive: q(`UPDATE {T} AS t SET state = 1, attempts = 0, next_attempt_at = {NOW1}, updated_at = {NOW1}, redriven_at = {NOW1},
	seq = u.seq, is_head = u.head, lease_token = NULL, lease_expires_at = NULL
FROM unnest($2::text[], $3::bigint[], $4::boolean[]) AS u(id, seq, head)
WHERE t.id = u.id AND t.state = 4`),

		addLive: q(`UPDATE {K} AS k SET live = k.live + u.c
FROM unnest($1::text[], $2::integer[]) AS u(key, c) WHERE k.key = u.key`),

		notify: `SELECT pg_notify($1, '')`,

		// Each subquery reads the first entry of a partial index in its
		// order: one btree descent. Written as ORDER BY ... LIMIT 1 rather
		// than min(), which the planner may turn into a full scan of an
		// index its statistics say is small (the lease index often is,
		// until it is not).
		nextDue: q(`SELECT
	(SELECT next_attempt_at FROM {T} WHERE state = 1 AND is_head ORDER BY next_attempt_at, seq LIMIT 1),
	(SELECT lease_expires_at FROM {T} WHERE state = 2 ORDER BY lease_expires_at LIMIT 1),
	now()`),

		get: q(`SELECT {COLS} FROM {T} WHERE id = $1`),

		list: q(`SELECT {COLS} FROM {T}
WHERE seq > $1 AND ($2::smallint = 0 OR state = $2) AND ($3::text = '' OR key = $3)
ORDER BY seq LIMIT $4`),

		stats: statsQuery(n, exactSettledMax),

		purge: q(`WITH v AS (
	SELECT id FROM {T}
	WHERE state IN (3, 5) AND updated_at < {NOW3} + $1::interval
	ORDER BY updated_at, seq LIMIT $2
	FOR UPDATE SKIP LOCKED
)
DELETE FROM {T} AS t USING v WHERE t.id = v.id`),
	}
}

// exactSettledMax is how many delivered and discarded records Stats counts
// exactly; beyond it, it estimates them (see Store.Stats). It must stay
// above what storetest settles in one test (2,200 records).
const exactSettledMax = 10_000

// statsQuery renders the Stats statement, which counts delivered and
// discarded records exactly up to exactMax of them. Every part is an
// index-only count or lookup on a partial index, or reads at most
// exactMax+1 entries:
//
//   - pending (the pending index), in flight (the lease index) and dead
//     (the dead index) counted exactly, by index-only scans whose cost
//     grows with those records only, never with the retained history;
//   - the oldest live record (first entry of the live-age index) and the
//     longest-due pending one (first entry of the pending index at or
//     before $1, now);
//   - delivered and discarded records together, counted up to exactMax+1
//     by an index-only scan of the purge index (the ORDER BY pins that
//     index, and a literal LIMIT lets even a cached generic plan know the
//     scan is short); only when there are at most exactMax of them, or no
//     ANALYZE has sampled the table yet, are those rows read to split them
//     by state (an initplan in a CASE branch runs only if the branch is
//     taken);
//   - for the estimate: the table's live-row count from the statistics
//     collector and from pg_class (kept by VACUUM and ANALYZE), and the
//     share of delivered and discarded rows in ANALYZE's sample of the
//     state column ($2 schema and $3 table as the catalogs spell them, $4
//     the quoted qualified name).
func statsQuery(n names, exactMax int) string {
	r := strings.NewReplacer("{T}", n.Table, "{MAX}", strconv.Itoa(exactMax), "{LIMIT}", strconv.Itoa(exactMax+1), "{NOW1}", nowParam(1))
	return r.Replace(`WITH settled AS (
	SELECT count(*) AS n FROM (
		SELECT 1 FROM {T} WHERE state IN (3, 5) ORDER BY updated_at, seq LIMIT {LIMIT}
	) AS s
), freq AS (
	SELECT coalesce(sum(u.f) FILTER (WHERE u.v = 3), 0)::float8 AS delivered,
		coalesce(sum(u.f) FILTER (WHERE u.v = 5), 0)::float8 AS discarded
	FROM pg_stats p CROSS JOIN LATERAL unnest(p.most_common_vals::text::smallint[], p.most_common_freqs) AS u(v, f)
	WHERE p.schemaname = $2 AND p.tablename = $3 AND p.attname = 'state'
)
SELECT
	(SELECT count(*) FROM {T} WHERE state = 1),
	(SELECT count(*) FROM {T} WHERE state = 2),
	(SELECT count(*) FROM {T} WHERE state = 4),
	(SELECT created_at FROM {T} WHERE state IN (1, 2) ORDER BY created_at LIMIT 1),
	(SELECT next_attempt_at FROM {T} WHERE state = 1 AND next_attempt_at <= {NOW1} ORDER BY next_attempt_at LIMIT 1),
	settled.n,
	CASE WHEN settled.n <= {MAX} OR freq.delivered + freq.discarded = 0 THEN (
		SELECT count(*) FROM (
			SELECT state FROM {T} WHERE state IN (3, 5) ORDER BY updated_at, seq LIMIT {LIMIT}
		) AS s WHERE s.state = 3
	) END,
	pg_stat_get_live_tuples(c.oid), greatest(c.reltuples, 0)::float8,
	freq.delivered, freq.discarded, {NOW1}
FROM pg_class c CROSS JOIN settled CROSS JOIN freq
WHERE c.oid = to_regclass($4)`)
}
