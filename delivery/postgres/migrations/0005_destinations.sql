-- outbound outbox, version 5: destinations.
--
-- A destination is durable state shared by every process on the outbox:
-- whether it is paused (until when, why), disabled (why), its limits, and
-- its place in the claim's round robin. Every destination that has had a
-- record has a row: Enqueue and Redrive insert it (ON CONFLICT DO NOTHING,
-- which writes nothing when it exists), so Claim walks this table, not the
-- records, to find the destinations with due work. Settles never write it.
CREATE TABLE IF NOT EXISTS {{.Destinations}} (
	name          text        PRIMARY KEY,
	-- End of the current pause; NULL when active. A pause that has ended
	-- but whose probe has not yet succeeded keeps it: the destination is
	-- probing (one record at a time across the fleet).
	paused_until  timestamptz,
	-- When the destination was first paused since it was last healthy.
	paused_since  timestamptz,
	pauses        integer     NOT NULL DEFAULT 0,
	disabled      boolean     NOT NULL DEFAULT false,
	cause         text        NOT NULL DEFAULT '',
	reason        text        NOT NULL DEFAULT '',
	-- Records leased at once over every unexpired lease; 0 is no bound.
	max_in_flight integer     NOT NULL DEFAULT 0 CHECK (max_in_flight >= 0),
	-- When its status, pause or limit last changed; NULL for a destination
	-- known only from its records.
	changed_at    timestamptz,
	-- Round robin: the claim serves the destinations served least recently
	-- first, and stamps those it served with the next value of the
	-- records' sequence.
	last_served   bigint      NOT NULL DEFAULT 0,
	-- The claim that last locked this destination to count its leases
	-- (destinations with a bound, or probing); see claim.go.
	claim_token   text
);
CREATE INDEX IF NOT EXISTS {{.ServedIdx}} ON {{.Destinations}} (last_served, name);
CREATE INDEX IF NOT EXISTS {{.TokenIdx}} ON {{.Destinations}} (claim_token) WHERE claim_token IS NOT NULL;

INSERT INTO {{.Destinations}} (name) VALUES ('') ON CONFLICT DO NOTHING;
INSERT INTO {{.Destinations}} (name)
SELECT DISTINCT destination FROM {{.Table}} WHERE state IN (1, 2, 4)
ON CONFLICT DO NOTHING;

-- Per-key ordering is scoped to the destination: the keys table counts
-- live records per (destination, key), and a key's head is the lowest-seq
-- live record of its destination and key. Rebuilt from the records.
ALTER TABLE {{.Keys}} ADD COLUMN IF NOT EXISTS destination text NOT NULL DEFAULT '';
ALTER TABLE {{.Keys}} DROP CONSTRAINT IF EXISTS {{.KeysPK}};
DELETE FROM {{.Keys}};
ALTER TABLE {{.Keys}} ADD PRIMARY KEY (destination, key);
INSERT INTO {{.Keys}} (destination, key, live)
SELECT destination, key, count(*) FROM {{.Table}}
WHERE state IN (1, 2) AND key <> '' GROUP BY destination, key;
UPDATE {{.Table}} AS t SET is_head = (t.seq = h.first)
FROM (SELECT destination, key, min(seq) AS first FROM {{.Table}}
	WHERE state IN (1, 2) AND key <> '' GROUP BY destination, key) AS h
WHERE t.state IN (1, 2) AND t.key <> '' AND t.destination = h.destination AND t.key = h.key
	AND t.is_head IS DISTINCT FROM (t.seq = h.first);

-- The claim takes each destination's due heads in due order, and counts
-- and reclaims its leases, through indexes led by the destination.
CREATE INDEX IF NOT EXISTS {{.DestClaimIdx}} ON {{.Table}} (destination, next_attempt_at, seq)
	WHERE state = 1 AND is_head;
CREATE INDEX IF NOT EXISTS {{.DestLeaseIdx}} ON {{.Table}} (destination, lease_expires_at)
	WHERE state = 2;
CREATE INDEX IF NOT EXISTS {{.DestKeyIdx}} ON {{.Table}} (destination, key, seq)
	WHERE state IN (1, 2) AND key <> '';
-- List by destination.
CREATE INDEX IF NOT EXISTS {{.DestSeqIdx}} ON {{.Table}} (destination, seq);
DROP INDEX IF EXISTS {{.Schema}}.{{.ClaimIdx}};
DROP INDEX IF EXISTS {{.Schema}}.{{.KeyIdx}};

-- Upgrading a large outbox in place: the index builds read the table and
-- hold writes back until done (about a second per million rows each), and
-- the is_head update rewrites the live keyed records whose head changes
-- (records of one key at several destinations). To avoid the pause, create
-- the indexes beforehand with CREATE INDEX CONCURRENTLY, with these names
-- and definitions.
