-- outbound outbox, version 3: indexes that let Stats count and age the
-- backlog without reading the table.
--
-- Pending records by due time: the exact pending count (an index-only
-- scan of pending rows only) and the longest-due pending record (its first
-- entry). Unlike the claim index it holds the records blocked behind their
-- key's head too, which Stats counts.
CREATE INDEX IF NOT EXISTS {{.PendingIdx}} ON {{.Table}} (next_attempt_at)
	WHERE state = 1;
-- Live records by creation time: the oldest live record (its first entry).
CREATE INDEX IF NOT EXISTS {{.LiveAgeIdx}} ON {{.Table}} (created_at)
	WHERE state IN (1, 2);

-- Upgrading a large outbox in place: CREATE INDEX reads the table once and
-- holds inserts and updates back until it is done: about a second per
-- million rows of the table each, delivered rows included (they are read,
-- though the predicates leave them out of the indexes). To avoid that pause, create both indexes beforehand with CREATE
-- INDEX CONCURRENTLY, with these names and definitions; this migration
-- then finds them and does nothing.
