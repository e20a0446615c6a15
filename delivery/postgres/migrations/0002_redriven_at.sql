-- outbound outbox, version 2: when a record was last redriven.
--
-- A redrive starts a new delivery effort (delivery.Record.RedrivenAt): the
-- dispatcher measures a policy's MaxElapsed from the later of created_at
-- and redriven_at. NULL means never redriven. Adding a nullable column
-- without a default only changes the catalog, so upgrading a large outbox
-- in place takes no time and rewrites no row.

ALTER TABLE {{.Table}} ADD COLUMN IF NOT EXISTS redriven_at timestamptz;
