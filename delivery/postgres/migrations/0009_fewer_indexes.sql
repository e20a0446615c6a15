-- outbound outbox, version 9: fewer index entries written per record.
--
-- Every state change moves a record between partial indexes, so no update
-- is HOT and each one writes an entry into every index whose predicate the
-- new row matches. Version 8 wrote six on enqueue and six on claim; this
-- version writes four on either (the primary key, seq, (destination, seq)
-- and one state's own index), with the same plans for claim and NextDue
-- and the same figures from Stats:
--
-- Pending heads, in claim order, carrying created_at, so that Stats takes
-- the pending heads' count, oldest creation and longest due time from one
-- index-only scan of the index the claim reads anyway. It replaces the
-- claim index of version 5.
CREATE INDEX IF NOT EXISTS {{.HeadsIdx}} ON {{.Table}} (destination, next_attempt_at, seq) INCLUDE (created_at)
	WHERE state = 1 AND is_head;
-- Pending records that are not heads: keyed records waiting behind their
-- key's head, the only pending records missing from the index above.
-- Unkeyed records never enter it.
CREATE INDEX IF NOT EXISTS {{.BlockedIdx}} ON {{.Table}} (next_attempt_at) INCLUDE (created_at)
	WHERE state = 1 AND NOT is_head;
-- Replaced by the two above: the version 5 claim index, and version 3's
-- pending and live-age indexes (Stats' oldest in-flight record now comes
-- from the in-flight rows themselves, as few as the workers).
DROP INDEX IF EXISTS {{.Schema}}.{{.DestClaimIdx}};
DROP INDEX IF EXISTS {{.Schema}}.{{.PendingIdx}};
DROP INDEX IF EXISTS {{.Schema}}.{{.LiveAgeIdx}};
-- NextDue finds the earliest lease expiry per destination through the
-- (destination, lease_expires_at) index, as the claim does.
DROP INDEX IF EXISTS {{.Schema}}.{{.LeaseIdx}};

-- Upgrading a large outbox in place: the two index builds read the table
-- and hold writes back until done (about a second per million rows each).
-- To avoid the pause, create both indexes beforehand with CREATE INDEX
-- CONCURRENTLY, with these names and definitions; this migration then
-- finds them, and dropping the old ones is quick.
