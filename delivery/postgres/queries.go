package postgres

import (
	"strconv"
	"strings"

	"github.com/outbound-go/outbound/delivery"
)

// queries holds every SQL statement of one outbox, rendered once in New
// from quoted identifiers. Values always travel as parameters. Partial
// index predicates (state = 1 AND is_head, ...) are written as literals so
// the planner can match them for every parameter value.
type queries struct {
	existing, lockKeys, insert, dropIdleKeys, promoteKeys string

	lockDests, claim string

	pause, pauseSet, resumeAfterProbe, resume, disable, setLimits, destinations string
	limits, lowerRate                                                           string
	lockPending, cancel, retryNow                                               string

	settleTerminal, settleTerminalMany, promoteAfter, promoteAfterMany string
	rescheduleAttempt, rescheduleDeferral, release                     string

	lockForRedrive, matchDead, maxSeq, nextSeqs, redrive, addLive, notify, addDests string

	get, list, stats, purge string

	nextDue string

	statementNow string
}

// nowParam is a statement's "now": parameter $i, or the database's now()
// when it is NULL (see clock.go). Times later or earlier than now travel as
// intervals added to it.
func nowParam(i int) string { return "coalesce($" + strconv.Itoa(i) + "::timestamptz, now())" }

func buildQueries(n names) queries {
	r := strings.NewReplacer("{T}", n.Table, "{K}", n.Keys, "{D}", n.Destinations, "{NOW2}", nowParam(2), "{SEQ}", "'"+n.SeqName+"'", "{COLS}", recordColumns,
		"{NOW1}", nowParam(1), "{NOW3}", nowParam(3), "{NOW4}", nowParam(4), "{NOW8}", nowParam(8),
		"{NOW9}", nowParam(9), "{NOW10}", nowParam(10))
	// hasDue is true when destination c has a due record: a pending head
	// or an expired lease. Each is the first entry of an index led by the
	// destination, in its order (an EXISTS would let the planner pick a
	// scan that stops at the first match, which can be the whole table).
	hasDue := r.Replace(`coalesce(
	(SELECT true FROM {T} r WHERE r.destination = c.name AND r.state = 1 AND r.is_head AND r.next_attempt_at <= {NOW1}
		ORDER BY r.destination, r.next_attempt_at, r.seq LIMIT 1),
	(SELECT true FROM {T} r WHERE r.destination = c.name AND r.state = 2 AND r.lease_expires_at <= {NOW1}
		ORDER BY r.destination, r.lease_expires_at LIMIT 1),
	false)`)
	// leased counts the unexpired leases of destination c, up to its
	// bound (all a claim needs to know), in the lease index's order.
	leased := func(c string) string {
		return strings.ReplaceAll(r.Replace(`(SELECT count(*) FROM (SELECT 1 FROM {T} r
		WHERE r.destination = c.name AND r.state = 2 AND r.lease_expires_at > {NOW1}
		ORDER BY r.destination, r.lease_expires_at
		LIMIT CASE WHEN c.paused_until IS NOT NULL THEN 1 ELSE c.max_in_flight END) AS l)`), "c.", c+".")
	}
	// iv is destination c's GCRA emission interval in whole microseconds,
	// as delivery.EmissionInterval computes it; tokens is how many
	// records its rate limit lets a claim take at now (delivery.GCRA),
	// $2 (the claim's limit) for none; next is when it has a token again
	// (delivery.GCRANext), NULL for no limit.
	iv := func(c string) string { return "ceil(1e6 / greatest(" + c + ".rate, 0.001))::bigint" }
	tokens := func(c string) string {
		return strings.ReplaceAll(r.Replace(`CASE WHEN c.rate = 0 THEN $2::bigint ELSE
		greatest(0, floor((greatest(c.burst, 1)::numeric * IV
			- greatest(0, extract(epoch FROM c.rate_tat - {NOW1}) * 1e6)) / IV))::bigint END`), "IV", iv("c"))
	}
	next := `CASE WHEN d.rate > 0 THEN d.rate_tat - ((greatest(d.burst, 1) - 1) * ` + iv("d") + `) * interval '1 microsecond' END`
	q := func(s string) string {
		return strings.NewReplacer("{HASDUE}", hasDue, "{LEASED}", leased("c"), "{LEASEDD}", leased("d"),
			"{TOKENS}", tokens("c"), "{IVD}", iv("d"), "{NEXTTOKEN}", next).Replace(r.Replace(s))
	}
	tcols := "t." + strings.ReplaceAll(strings.Join(strings.Fields(recordColumns), " "), ", ", ", t.")
	// A claim does not return the history: a worker does not read it,
	// and it may be tens of kilobytes a record.
	claimCols := strings.Replace(tcols, "t.history", "'[]'::jsonb", 1)
	// history appends attempt a (an SQL expression: a parameter, or a
	// column of the input rows, holding delivery.EncodeAttempt's text) to
	// a record's history and keeps the newest $b (at least the newest when
	// $b > 0) whose sizes (delivery.AttemptSize) add up to at most $c.
	// While a history is short enough that no trim can be needed (each
	// stored attempt is at most MaxErrorText+MaxResponseText+AttemptOverhead
	// bytes: settle.go bounds its texts) it is a plain append, half the
	// cost of expanding and re-aggregating it; a first attempt, the common
	// case, always is.
	history := func(a string, b, c int) string {
		return strings.NewReplacer("$A", a, "$B", "$"+strconv.Itoa(b), "$C", "$"+strconv.Itoa(c),
			"{OVERHEAD}", strconv.Itoa(delivery.AttemptOverhead),
			"{MAXA}", strconv.Itoa(delivery.MaxErrorText+delivery.MaxResponseText+delivery.AttemptOverhead)).Replace(`CASE
		WHEN jsonb_array_length(history) + 1 <= $B::bigint AND (jsonb_array_length(history) + 1)::bigint * {MAXA} <= $C::bigint
		THEN history || jsonb_build_array($A::jsonb)
		ELSE (SELECT coalesce(jsonb_agg(h.e ORDER BY h.i), '[]'::jsonb) FROM (
		SELECT x.e, x.i, row_number() OVER w AS n,
			sum(octet_length(coalesce(x.e->>'error', '')) + octet_length(coalesce(x.e->>'response', '')) + {OVERHEAD}) OVER w AS b
		FROM jsonb_array_elements(history || jsonb_build_array($A::jsonb)) WITH ORDINALITY AS x(e, i)
		WINDOW w AS (ORDER BY x.i DESC)
	) AS h WHERE h.n <= $B::bigint AND (h.n = 1 OR h.b <= $C::bigint)) END`)
	}
	// promote renders the promotion of the next heads of the keys of the
	// settled records that match (a condition on their id).
	promote := func(match string) string {
		return `WITH k AS (
	SELECT DISTINCT destination, key FROM {T} WHERE ` + match + ` AND key <> '' AND state >= 3
), gone AS (
	DELETE FROM {K} AS g USING k WHERE g.destination = k.destination AND g.key = k.key AND g.live = 0
), h AS (
	SELECT n.id FROM k CROSS JOIN LATERAL (
		SELECT o.id FROM {T} o WHERE o.destination = k.destination AND o.key = k.key AND o.key <> '' AND o.state IN (1, 2)
		ORDER BY o.seq LIMIT 1
	) AS n
)
UPDATE {T} AS t SET is_head = true FROM h WHERE t.id = h.id AND NOT t.is_head`
	}
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

		// Locks the rows of the given distinct, sorted (destination, key)
		// pairs (creating them at zero) and returns how many records of
		// each are live.
		lockKeys: q(`INSERT INTO {K} AS k (destination, key, live)
SELECT u.dest, u.key, 0 FROM unnest($1::text[], $2::text[]) AS u(dest, key) ORDER BY u.dest, u.key
ON CONFLICT (destination, key) DO UPDATE SET live = k.live
RETURNING k.destination, k.key, k.live`),

		insert: q(`WITH ins AS (
	INSERT INTO {T} (id, seq, key, destination, payload, headers, idempotency_key, correlation_id,
		created_at, state, is_head, next_attempt_at, updated_at, trace_parent, trace_state)
	SELECT u.id, nextval({SEQ}), u.key, u.dest, u.payload, u.headers::jsonb, u.idem, u.corr,
		coalesce(u.created, {NOW10}), 1, u.head, {NOW10}, {NOW10}, u.tparent, u.tstate
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[],
		$8::timestamptz[], $9::boolean[], $12::text[], $13::text[])
		WITH ORDINALITY AS u(id, key, dest, payload, headers, idem, corr, created, head, tparent, tstate, ord)
	ORDER BY u.ord
	ON CONFLICT DO NOTHING
	RETURNING id, key, destination, seq, created_at, next_attempt_at
), cnt AS (
	SELECT destination, key, count(*) AS c FROM ins WHERE key <> '' GROUP BY destination, key
), upd AS (
	UPDATE {K} AS k SET live = k.live + cnt.c FROM cnt WHERE k.destination = cnt.destination AND k.key = cnt.key
), dst AS (
	INSERT INTO {D} (name) SELECT u.name FROM unnest($11::text[]) AS u(name) ORDER BY u.name ON CONFLICT DO NOTHING
)
SELECT id, seq, created_at, next_attempt_at FROM ins`),

		dropIdleKeys: q(`DELETE FROM {K} AS k USING unnest($1::text[], $2::text[]) AS u(dest, key)
WHERE k.destination = u.dest AND k.key = u.key AND k.live = 0`),

		// Makes the lowest-seq live record of each (destination, key) its
		// head. Callers hold the keys' rows locked.
		promoteKeys: q(`UPDATE {T} AS t SET is_head = true
FROM unnest($1::text[], $2::text[]) AS u(dest, key)
CROSS JOIN LATERAL (
	SELECT o.id FROM {T} o WHERE o.destination = u.dest AND o.key = u.key AND o.key <> '' AND o.state IN (1, 2)
	ORDER BY o.seq LIMIT 1
) AS h
WHERE t.id = h.id AND NOT t.is_head`),

		// The claim, in two statements of one pipelined batch (one
		// transaction, one round trip; see claim.go). The first locks the
		// destinations whose claims must be counted (a MaxInFlight, or
		// probing) that have due work and room, least recently served
		// first, skipping those another claim holds, and marks them with
		// this claim's token. $1 now, $2 limit, $3 token, $4 skip.
		lockDests: q(`UPDATE {D} AS d SET claim_token = $3
FROM (
	SELECT c.name FROM {D} c
	WHERE NOT c.disabled AND (c.max_in_flight > 0 OR c.paused_until IS NOT NULL OR c.rate > 0)
		AND (c.paused_until IS NULL OR c.paused_until <= {NOW1})
		AND NOT c.name = ANY($4::text[])
		AND {HASDUE}
		AND (c.paused_until IS NULL AND c.max_in_flight = 0
			OR {LEASED} < CASE WHEN c.paused_until IS NOT NULL THEN 1 ELSE c.max_in_flight END)
		AND {TOKENS} > 0
	ORDER BY c.last_served, c.name
	LIMIT $2
	FOR UPDATE SKIP LOCKED
) AS pick
WHERE d.name = pick.name`),

		// The second, with a snapshot taken after those locks: every claim
		// of those destinations committed before is seen, and none can
		// commit until this one does. Candidates are the unbounded active
		// destinations with due work plus the ones locked above, least
		// recently served first, at most $2 of them; each gives its due
		// records (pending heads in due order, and expired leases) up to
		// its room, locked with SKIP LOCKED; they are ranked within their
		// destination and taken round by round (rank, then destination
		// order), $2 in all. Destinations served are stamped with the next
		// sequence value unless another claim holds their row (it stamps
		// them itself), and only when there was more than one to choose
		// from: a single destination's claims write nothing to its row,
		// unless it has a Rate: then its GCRA time moves on by the records
		// taken (the row is this claim's, locked by the first statement). $1 now, $2 limit, $3 token, $4 lease, $5 skip.
		claim: q(`WITH dests AS MATERIALIZED (
	SELECT u.name, u.last_served, u.probing, u.room FROM (
		(SELECT c.name, c.last_served, false AS probing, $2::bigint AS room
		FROM {D} c
		WHERE NOT c.disabled AND c.max_in_flight = 0 AND c.rate = 0 AND c.paused_until IS NULL
			AND NOT c.name = ANY($5::text[])
			AND {HASDUE}
		ORDER BY c.last_served, c.name
		LIMIT $2)
		UNION ALL
		(SELECT c.name, c.last_served, c.paused_until IS NOT NULL,
			least($2::bigint, CASE WHEN c.paused_until IS NOT NULL THEN 1 - {LEASED}
				WHEN c.max_in_flight > 0 THEN c.max_in_flight - {LEASED} ELSE $2::bigint END, {TOKENS})
		FROM {D} c
		WHERE c.claim_token = $3 AND NOT c.disabled AND (c.paused_until IS NULL OR c.paused_until <= {NOW1}))
	) AS u
	WHERE u.room > 0
	ORDER BY u.last_served, u.name
	LIMIT $2
), n AS (
	-- Each destination gives at most limit - (destinations - 1) records:
	-- with one at least from each of the others, round robin never takes
	-- more from one.
	SELECT greatest(1, $2 - count(*) + 1) AS most FROM dests
), cand AS MATERIALIZED (
	SELECT d.name, d.last_served, d.probing, x.id,
		row_number() OVER (PARTITION BY d.name ORDER BY x.next_attempt_at, x.seq) AS rank
	FROM dests d CROSS JOIN n CROSS JOIN LATERAL (
		SELECT y.id, y.next_attempt_at, y.seq FROM (
			SELECT * FROM (SELECT r.id, r.next_attempt_at, r.seq FROM {T} r
				WHERE r.destination = d.name AND r.state = 1 AND r.is_head AND r.next_attempt_at <= {NOW1}
				ORDER BY r.next_attempt_at, r.seq LIMIT least(d.room, n.most)
				FOR UPDATE SKIP LOCKED) AS p
			UNION ALL
			SELECT * FROM (SELECT r.id, r.next_attempt_at, r.seq FROM {T} r
				WHERE r.destination = d.name AND r.state = 2 AND r.lease_expires_at <= {NOW1}
				ORDER BY r.lease_expires_at LIMIT least(d.room, n.most)
				FOR UPDATE SKIP LOCKED) AS e
		) AS y
		ORDER BY y.next_attempt_at, y.seq LIMIT least(d.room, n.most)
	) AS x
), pick AS MATERIALIZED (
	SELECT c.id, c.name, c.probing FROM cand c ORDER BY c.rank, c.last_served, c.name LIMIT $2
), served AS (
	UPDATE {D} AS d SET
		last_served = CASE WHEN (SELECT count(*) FROM dests) > 1 THEN nextval({SEQ}) ELSE d.last_served END,
		rate_tat = CASE WHEN d.rate > 0 THEN greatest(d.rate_tat, {NOW1})
			+ ((SELECT count(*) FROM pick p WHERE p.name = d.name) * {IVD}) * interval '1 microsecond' ELSE d.rate_tat END
	WHERE ((SELECT count(*) FROM dests) > 1 OR d.rate > 0) AND d.name IN (
		SELECT o.name FROM {D} o WHERE o.name IN (SELECT p.name FROM pick p)
		ORDER BY o.name FOR UPDATE SKIP LOCKED)
)
UPDATE {T} AS t SET state = 2, lease_token = $3, lease_expires_at = {NOW1} + $4::interval, updated_at = {NOW1}
FROM pick WHERE t.id = pick.id
RETURNING ` + claimCols + `, pick.probing`),

		// Moves a claimed record to a terminal state and takes it out of
		// its key's live count (locking the key's row).
		settleTerminal: q(`WITH s AS (
	UPDATE {T} SET state = $3, attempts = attempts + 1, last_started_at = $4, last_duration_ns = $5,
		last_status = $6, last_class = $7, last_error = $8, duplicate = $9, last_response = $11,
		history = ` + history("$12", 13, 14) + `,
		lease_token = NULL, lease_expires_at = NULL, is_head = false, updated_at = {NOW10}
	WHERE id = $1 AND lease_token = $2 AND state = 2
	RETURNING destination, key
), k AS (
	UPDATE {K} AS k SET live = k.live - 1 FROM s WHERE s.key <> '' AND k.destination = s.destination AND k.key = s.key
)
SELECT (SELECT count(*) FROM s), EXISTS (SELECT 1 FROM {T} WHERE id = $1)`),

		// settleTerminal for several records at once, as group commit
		// sends a flush's terminal settles: $1..$12 are settleTerminal's
		// per-record parameters as arrays (with $10, now, per record;
		// $12 the attempt), $13 and $14 the history bounds. Each record is
		// guarded as settleTerminal guards it; the ids are distinct. One
		// row per input, in order: settled, and whether the id exists.
		// Records are found by primary key (id = ANY): the in-flight
		// guard compares state with an input column rather than the
		// constant 2, so the planner cannot instead scan the in-flight
		// index, whose predicate that constant would match, and test
		// every in-flight record against every input row.
		settleTerminalMany: q(`WITH u AS (
	SELECT v.*, 2::smallint AS inflight FROM unnest($1::text[], $2::text[], $3::smallint[], $4::timestamptz[], $5::bigint[], $6::integer[],
		$7::smallint[], $8::text[], $9::boolean[], $10::timestamptz[], $11::text[], $12::text[])
		WITH ORDINALITY AS v(id, token, state, started, duration, status, class, error, duplicate, now, response, attempt, ord)
), s AS (
	UPDATE {T} AS t SET state = u.state, attempts = t.attempts + 1, last_started_at = u.started, last_duration_ns = u.duration,
		last_status = u.status, last_class = u.class, last_error = u.error, duplicate = u.duplicate, last_response = u.response,
		history = ` + history("u.attempt", 13, 14) + `,
		lease_token = NULL, lease_expires_at = NULL, is_head = false, updated_at = coalesce(u.now, now())
	FROM u WHERE t.id = ANY($1::text[]) AND t.id = u.id AND t.lease_token = u.token AND t.state = u.inflight
	RETURNING t.id, t.destination, t.key
), k AS (
	UPDATE {K} AS k SET live = k.live - c.n FROM (
		SELECT s.destination, s.key, count(*) AS n FROM s WHERE s.key <> '' GROUP BY s.destination, s.key
	) AS c WHERE k.destination = c.destination AND k.key = c.key
)
SELECT s.id IS NOT NULL, s.id IS NOT NULL OR EXISTS (SELECT 1 FROM {T} AS e WHERE e.id = u.id)
FROM u LEFT JOIN s ON s.id = u.id ORDER BY u.ord`),

		// Runs after settleTerminal, as its own statement so that it sees
		// every record committed before the key's row was locked: drops
		// the key if nothing of it is live, else promotes its next head.
		// Idempotent, so it is harmless when the settle changed nothing.
		// $1 is the settled record's id.
		promoteAfter: q(promote("id = $1")),
		// promoteAfter for several settled records: $1 their ids. Two
		// statements, not this one for both: with an array of unknown
		// length PostgreSQL plans a lone settle's promotion afresh on
		// every call, which cost a record settled alone about a fifth of
		// the throughput at Concurrency 1.
		promoteAfterMany: q(promote("id = ANY($1::text[])")),

		rescheduleAttempt: q(`WITH s AS (
	UPDATE {T} SET state = 1, next_attempt_at = {NOW9} + $3::interval, attempts = attempts + 1, last_started_at = $4,
		last_duration_ns = $5, last_status = $6, last_class = $7, last_error = $8, last_response = $10,
		history = ` + history("$11", 12, 13) + `,
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

		lockForRedrive: q(`SELECT id, destination, key, state, seq FROM {T} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`),

		// One batch of RedriveMatching: the next $7 matching dead records
		// after seq $5 and up to seq $6, read in seq order from the dead
		// index. Rows another redrive holds are skipped, not waited for.
		matchDead: q(`SELECT id, destination, key, state, seq FROM {T}
WHERE state = 4 AND seq > $5 AND seq <= $6
	AND ($1::text = '' OR key = $1)
	AND ($2::text = '' OR destination = $2)
	AND (cardinality($3::smallint[]) = 0 OR last_class = ANY($3::smallint[]))
	AND ($4::interval IS NULL OR updated_at < {NOW8} + $4::interval)
ORDER BY seq LIMIT $7
FOR UPDATE SKIP LOCKED`),

		maxSeq: q(`SELECT coalesce(max(seq), 0) FROM {T}`),

		// $1 sequence values as one array: one row to send, not $1.
		nextSeqs: q(`SELECT array_agg(nextval({SEQ})) FROM generate_series(1, $1::integer)`),

		// The now a statement of this transaction writes: the caller's
		// clock, or the database's (see clock.go).
		statementNow: q(`SELECT {NOW1}`),

		redrive: q(`UPDATE {T} AS t SET state = 1, attempts = 0, next_attempt_at = {NOW1}, updated_at = {NOW1}, redriven_at = {NOW1},
	seq = u.seq, is_head = u.head, lease_token = NULL, lease_expires_at = NULL
FROM unnest($2::text[], $3::bigint[], $4::boolean[]) AS u(id, seq, head)
WHERE t.id = u.id AND t.state = 4`),

		addLive: q(`UPDATE {K} AS k SET live = k.live + u.c
FROM unnest($1::text[], $2::text[], $3::integer[]) AS u(dest, key, c) WHERE k.destination = u.dest AND k.key = u.key`),

		// Every destination with a record has a row (see the migration).
		addDests: q(`INSERT INTO {D} (name) SELECT DISTINCT u.name FROM unnest($1::text[]) AS u(name) ORDER BY u.name
ON CONFLICT DO NOTHING`),

		notify: `SELECT pg_notify($1, '')`,

		// Each subquery reads, per destination, the first entry of a
		// partial index in its order: one btree descent. Written as ORDER
		// BY ... LIMIT 1 rather than min(), which the planner may turn into
		// a full scan of an index its statistics say is small (the lease
		// index often is, until it is not).
		nextDue: q(`SELECT
	(SELECT min(CASE WHEN d.paused_until > {NOW1} THEN greatest(h.next_attempt_at, d.paused_until)
		ELSE greatest(h.next_attempt_at, {NEXTTOKEN}) END)
	FROM {D} d CROSS JOIN LATERAL (
		SELECT r.next_attempt_at FROM {T} r WHERE r.destination = d.name AND r.state = 1 AND r.is_head
		ORDER BY r.next_attempt_at, r.seq LIMIT 1
	) AS h
	WHERE NOT d.disabled AND (d.paused_until > {NOW1}
		OR (d.max_in_flight = 0 AND d.paused_until IS NULL)
		OR {LEASEDD} < CASE WHEN d.paused_until IS NOT NULL THEN 1 ELSE d.max_in_flight END)),
	(SELECT min(l.lease_expires_at) FROM {D} d CROSS JOIN LATERAL (
		SELECT r.lease_expires_at FROM {T} r WHERE r.destination = d.name AND r.state = 2
		ORDER BY r.destination, r.lease_expires_at LIMIT 1
	) AS l),
	now()`),

		get: q(`SELECT {COLS} FROM {T} WHERE id = $1`),

		// $6 and $7 bound updated_at as distances from now ($9), NULL
		// for none; $8 is text the last error must contain.
		list: q(`SELECT {COLS} FROM {T}
WHERE seq > $1 AND ($2::smallint = 0 OR state = $2) AND ($3::text = '' OR key = $3)
	AND ($5::text IS NULL OR destination = $5)
	AND ($6::interval IS NULL OR updated_at >= {NOW9} + $6::interval)
	AND ($7::interval IS NULL OR updated_at < {NOW9} + $7::interval)
	AND ($8::text = '' OR strpos(last_error, $8) > 0)
ORDER BY seq LIMIT $4`),

		stats: statsQuery(n, exactSettledMax),

		// Destinations. $1 name, $2 now.
		pause: q(`INSERT INTO {D} AS d (name, pauses, paused_since, changed_at) VALUES ($1, 1, {NOW2}, {NOW2})
ON CONFLICT (name) DO UPDATE SET
	-- A failure during a running pause extends it; it is not another pause.
	pauses = CASE WHEN d.paused_until > {NOW2} THEN d.pauses ELSE d.pauses + 1 END,
	paused_since = coalesce(d.paused_since, {NOW2}), changed_at = {NOW2}
RETURNING d.pauses`),
		// $3 the pause's end as a distance from now, $4 cause, $5 reason.
		pauseSet: q(`UPDATE {D} AS d SET
	paused_until = CASE WHEN d.paused_until IS NULL OR d.paused_until < {NOW2} + $3::interval THEN {NOW2} + $3::interval ELSE d.paused_until END,
	cause = CASE WHEN (d.paused_until IS NULL OR d.paused_until < {NOW2} + $3::interval) AND NOT d.disabled THEN $4 ELSE d.cause END,
	reason = CASE WHEN (d.paused_until IS NULL OR d.paused_until < {NOW2} + $3::interval) AND NOT d.disabled THEN $5 ELSE d.reason END
WHERE d.name = $1
RETURNING ` + destColumns + `, {NOW2}`),
		// $3 the channel to notify when it resumed.
		resumeAfterProbe: q(`WITH u AS (
	UPDATE {D} SET paused_until = NULL, paused_since = NULL, pauses = 0, cause = '', reason = '', changed_at = {NOW2}
	WHERE name = $1 AND NOT disabled AND paused_until <= {NOW2}
	RETURNING 1
)
SELECT count(*) FROM (SELECT pg_notify($3, '') FROM u) AS n`),
		resume: q(`WITH u AS (
	UPDATE {D} SET paused_until = NULL, paused_since = NULL, pauses = 0, disabled = false, cause = '', reason = '', changed_at = {NOW2}
	WHERE name = $1
	RETURNING 1
)
SELECT count(*) FROM (SELECT pg_notify($3, '') FROM u) AS n`),
		// $3 cause, $4 reason.
		disable: q(`INSERT INTO {D} AS d (name, disabled, cause, reason, changed_at) VALUES ($1, true, $3, $4, {NOW2})
ON CONFLICT (name) DO UPDATE SET disabled = true, cause = $3, reason = $4, changed_at = {NOW2}`),
		// $3 max in flight.
		setLimits: q(`INSERT INTO {D} AS d (name, max_in_flight, rate, burst, changed_at) VALUES ($1, $3, $4, $5, {NOW2})
ON CONFLICT (name) DO UPDATE SET max_in_flight = $3, rate = $4, burst = $5,
	changed_at = CASE WHEN d.max_in_flight <> $3 OR d.rate <> $4 OR d.burst <> $5 OR d.changed_at IS NULL
		THEN {NOW2} ELSE d.changed_at END`),
		limits: q(`SELECT max_in_flight, rate, burst FROM {D} WHERE name = $1`),
		// $3 the rate; the rate in force after, none without a row.
		lowerRate: q(`WITH u AS (
	UPDATE {D} SET rate = $3, changed_at = {NOW2} WHERE name = $1 AND (rate = 0 OR rate > $3) RETURNING rate
)
SELECT rate FROM u UNION ALL SELECT rate FROM {D} WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM u)`),
		// Every destination with live or dead records or stored state,
		// with its figures: one pass over the live and dead records. $1 now.
		destinations: q(`SELECT ` + destColumns + `,
	coalesce(f.pending, 0), coalesce(f.in_flight, 0), coalesce(f.dead, 0), f.oldest, {NOW1}
FROM {D} d LEFT JOIN (
	SELECT destination, count(*) FILTER (WHERE state = 1) AS pending, count(*) FILTER (WHERE state = 2) AS in_flight,
		count(*) FILTER (WHERE state = 4) AS dead, min(created_at) FILTER (WHERE state IN (1, 2)) AS oldest
	FROM {T} WHERE state IN (1, 2, 4) GROUP BY destination
) AS f ON f.destination = d.name
WHERE d.changed_at IS NOT NULL OR f.destination IS NOT NULL
ORDER BY d.name`),

		// Operators' record actions: lock, check, then act.
		lockPending: q(`SELECT id, destination, key, state, seq FROM {T} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`),
		// $1 ids, $2 now, $3 the cancelled text, $4 the discard class.
		cancel: q(`WITH c AS (
	UPDATE {T} SET state = 5, is_head = false, last_started_at = NULL, last_duration_ns = 0, last_status = 0,
		last_class = $4, last_error = $3, last_response = '', updated_at = {NOW2}
	WHERE id = ANY($1::text[]) AND state = 1
	RETURNING destination, key
), cnt AS (
	SELECT destination, key, count(*) AS n FROM c WHERE key <> '' GROUP BY destination, key
)
UPDATE {K} AS k SET live = k.live - cnt.n FROM cnt WHERE k.destination = cnt.destination AND k.key = cnt.key`),
		// $1 ids, $2 now, $3 channel.
		retryNow: q(`WITH u AS (
	UPDATE {T} SET next_attempt_at = {NOW2}, updated_at = {NOW2}
	WHERE id = ANY($1::text[]) AND state = 1 AND next_attempt_at > {NOW2}
	RETURNING 1
)
SELECT count(*) FROM (SELECT pg_notify($3, '') FROM (SELECT 1 FROM u LIMIT 1) AS one) AS n`),

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
// aggregate over a partial index, or reads at most exactMax+1 entries:
//
//   - pending records counted exactly, with the oldest creation and the
//     earliest due time among them, in one index-only scan of the pending
//     index, which carries both; its cost grows with the pending records
//     only, never with the retained history;
//   - in-flight records counted, with the oldest creation among them,
//     through the lease index and their rows (as many as the workers
//     holding them), and dead records counted through the dead index;
//   - the oldest live record is the oldest of those three, and the
//     longest-due pending record the earliest due time if at or before
//     $1 (now);
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
), pending AS (
	SELECT count(*) AS n, min(created_at) AS oldest, min(next_attempt_at) AS due FROM {T} WHERE state = 1
), flight AS (
	SELECT count(*) AS n, min(created_at) AS oldest FROM {T} WHERE state = 2
)
SELECT
	pending.n,
	flight.n,
	(SELECT count(*) FROM {T} WHERE state = 4),
	least(pending.oldest, flight.oldest),
	CASE WHEN pending.due <= {NOW1} THEN pending.due END,
	settled.n,
	CASE WHEN settled.n <= {MAX} OR freq.delivered + freq.discarded = 0 THEN (
		SELECT count(*) FROM (
			SELECT state FROM {T} WHERE state IN (3, 5) ORDER BY updated_at, seq LIMIT {LIMIT}
		) AS s WHERE s.state = 3
	) END,
	pg_stat_get_live_tuples(c.oid), greatest(c.reltuples, 0)::float8,
	freq.delivered, freq.discarded, {NOW1}
FROM pg_class c CROSS JOIN settled CROSS JOIN freq CROSS JOIN pending CROSS JOIN flight
WHERE c.oid = to_regclass($4)`)
}
