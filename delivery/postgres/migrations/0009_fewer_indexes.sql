-- outbound outbox, version 9: fewer index entries written per record.
--
-- Every state change moves a record between partial indexes, so no update
-- is HOT and each one writes an entry into every index whose predicate the
-- new row matches. Version 8 wrote six on enqueue and six on claim; this
-- version writes five on enqueue and four on claim (the primary key, seq,
-- (destination, seq), then the claim index and the pending index on
-- enqueue, the lease index on claim), with the same plans for the claim
-- and NextDue and the same figures from Stats:
--
-- Pending records in Seq order, carrying their due and creation times.
-- Stats takes the pending count, the oldest creation and the longest due
-- time from one index-only scan of it; List filtered to pending records
-- reads it in its order, however much delivered history is retained. It
-- replaces version 3's pending and live-age indexes: Stats' oldest
-- in-flight record now comes from the in-flight rows themselves, as few
-- as the workers.
CREATE INDEX IF NOT EXISTS {{.PendingSeqIdx}} ON {{.Table}} (seq) INCLUDE (next_attempt_at, created_at)
	WHERE state = 1;
DROP INDEX IF EXISTS {{.Schema}}.{{.PendingIdx}};
DROP INDEX IF EXISTS {{.Schema}}.{{.LiveAgeIdx}};
-- NextDue finds the earliest lease expiry per destination through the
-- (destination, lease_expires_at) index, as the claim does.
DROP INDEX IF EXISTS {{.Schema}}.{{.LeaseIdx}};

-- Upgrading a large outbox in place: the index build reads the table and
-- holds writes back until done (about a second per million rows). To
-- avoid the pause, create the index beforehand with CREATE INDEX
-- CONCURRENTLY, with this name and definition, and check that it is
-- valid (a concurrent build that fails leaves an invalid index behind,
-- which this migration would take as built: drop it and build it again):
--
--   SELECT indisvalid FROM pg_index WHERE indexrelid = 'schema.table_pending_seq_idx'::regclass;
--
-- This migration then finds it, and dropping the old ones is quick.
