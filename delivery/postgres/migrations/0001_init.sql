-- outbound outbox, version 1.
--
-- Placeholders ({{.Table}} ...) are quoted identifiers derived from the
-- validated schema and table names; see names.go.

CREATE SEQUENCE IF NOT EXISTS {{.Seq}};

CREATE TABLE IF NOT EXISTS {{.Table}} (
	id               text        PRIMARY KEY,
	-- Queue order: assigned from {{.Seq}} on enqueue and again on redrive.
	seq              bigint      NOT NULL,
	key              text        NOT NULL DEFAULT '',
	destination      text        NOT NULL DEFAULT '',
	payload          bytea       NOT NULL,
	headers          jsonb,
	idempotency_key  text,
	correlation_id   text        NOT NULL DEFAULT '',
	created_at       timestamptz NOT NULL,
	-- 1 pending, 2 in flight, 3 delivered, 4 dead, 5 discarded
	-- (delivery.State values).
	state            smallint    NOT NULL CHECK (state BETWEEN 1 AND 5),
	-- True for a live record that is the lowest-seq live record of its key
	-- (always true for live unkeyed records). Kept in the same transaction
	-- as every enqueue, settle and redrive, under the key's row lock in
	-- {{.Keys}}, so claiming never has to look at blocked records.
	is_head          boolean     NOT NULL,
	attempts         integer     NOT NULL DEFAULT 0,
	deferrals        integer     NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz NOT NULL,
	lease_token      text,
	lease_expires_at timestamptz,
	last_started_at  timestamptz,
	last_duration_ns bigint      NOT NULL DEFAULT 0,
	last_status      integer     NOT NULL DEFAULT 0,
	last_class       smallint    NOT NULL DEFAULT 0,
	last_error       text        NOT NULL DEFAULT '',
	duplicate        boolean     NOT NULL DEFAULT false,
	updated_at       timestamptz NOT NULL
);

-- One row per ordering key with live records: how many are live. Enqueue,
-- settle and redrive lock the key's row (INSERT ... ON CONFLICT DO UPDATE
-- or UPDATE) before they decide which record heads the key, which
-- serialises them per key even inside callers' REPEATABLE READ
-- transactions. Rows are deleted when the count reaches zero.
CREATE TABLE IF NOT EXISTS {{.Keys}} (
	key  text    PRIMARY KEY,
	live integer NOT NULL CHECK (live >= 0)
);

-- Claim walks only claimable rows: pending heads in due order ...
CREATE INDEX IF NOT EXISTS {{.ClaimIdx}} ON {{.Table}} (next_attempt_at, seq)
	WHERE state = 1 AND is_head;
-- ... and in-flight rows by lease expiry (crash recovery).
CREATE INDEX IF NOT EXISTS {{.LeaseIdx}} ON {{.Table}} (lease_expires_at)
	WHERE state = 2;
-- The next head of a key, found when its head leaves the live set.
CREATE INDEX IF NOT EXISTS {{.KeyIdx}} ON {{.Table}} (key, seq)
	WHERE state IN (1, 2) AND key <> '';
-- Idempotent enqueue.
CREATE UNIQUE INDEX IF NOT EXISTS {{.IdemIdx}} ON {{.Table}} (idempotency_key)
	WHERE idempotency_key IS NOT NULL;
-- List pages in seq order.
CREATE UNIQUE INDEX IF NOT EXISTS {{.SeqIdx}} ON {{.Table}} (seq);
-- Retention: delivered and discarded rows, oldest update first.
CREATE INDEX IF NOT EXISTS {{.PurgeIdx}} ON {{.Table}} (updated_at, seq)
	WHERE state IN (3, 5);
-- Redrive of dead letters.
CREATE INDEX IF NOT EXISTS {{.DeadIdx}} ON {{.Table}} (seq)
	WHERE state = 4;

-- Wake-up: a statement-level trigger on INSERT only, so a dispatcher's own
-- updates never signal it. Statements that inserted no row (every message a
-- duplicate) stay silent. NOTIFY is delivered at commit, so a rolled-back
-- enqueue wakes nobody.
CREATE OR REPLACE FUNCTION {{.NotifyFunc}}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
	IF EXISTS (SELECT 1 FROM inserted) THEN
		PERFORM pg_notify('{{.Channel}}', '');
	END IF;
	RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS {{.Trigger}} ON {{.Table}};
CREATE TRIGGER {{.Trigger}} AFTER INSERT ON {{.Table}}
	REFERENCING NEW TABLE AS inserted
	FOR EACH STATEMENT EXECUTE FUNCTION {{.NotifyFunc}}();
