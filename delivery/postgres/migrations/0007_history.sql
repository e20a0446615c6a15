-- outbound outbox, version 7: each record's attempt history.
--
-- delivery.Record.History: the latest attempts, oldest first, as a JSON
-- array of objects (delivery.EncodeAttempt), appended and trimmed to the
-- store's History bounds by the statement that settles an attempt. A
-- constant default only changes the catalog (PostgreSQL 11 and later), so
-- upgrading a large outbox in place rewrites no row.

ALTER TABLE {{.Table}} ADD COLUMN IF NOT EXISTS history jsonb NOT NULL DEFAULT '[]'::jsonb;
