-- outbound outbox, version 4: idempotency per destination, and what the
-- partner answered.
--
-- A receiver recognises resends of its own messages, so one idempotency
-- key may stand for one record per destination: the messages of one event
-- for several partners share the event's key. Version 1 made the key
-- unique across destinations, so the second and third partner's messages
-- came back as the first partner's record and were never sent. The unique
-- index moves to (destination, idempotency_key); every outbox that
-- satisfied the old index satisfies the new one.
CREATE UNIQUE INDEX IF NOT EXISTS {{.DestIdemIdx}} ON {{.Table}} (destination, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
DROP INDEX IF EXISTS {{.Schema}}.{{.IdemIdx}};

-- The partner's answer to the last attempt (delivery.Attempt.Response): a
-- bounded, redacted snippet, such as the id of the resource a partner
-- created. A column with a constant default only changes the catalog, so
-- adding it rewrites no row.
ALTER TABLE {{.Table}} ADD COLUMN IF NOT EXISTS last_response text NOT NULL DEFAULT '';

-- Upgrading a large outbox in place: CREATE INDEX reads the table once and
-- holds inserts and updates back until it is done (about a second per
-- million rows, delivered rows included). To avoid that pause, create the
-- index beforehand with CREATE UNIQUE INDEX CONCURRENTLY, with this name
-- and definition; this migration then finds it, and only drops the old one.
