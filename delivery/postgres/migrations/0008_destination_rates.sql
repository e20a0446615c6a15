-- outbound outbox, version 8: fleet-wide rate limits per destination.
--
-- Claim runs GCRA (delivery.GCRA) on the destination's row, which it
-- already locks to count leases: rate and burst are the limit (0 rate is
-- none), rate_tat the theoretical arrival time, read and written on the
-- database's clock inside the claim, so every instance shares one limit.
ALTER TABLE {{.Destinations}} ADD COLUMN IF NOT EXISTS rate double precision NOT NULL DEFAULT 0 CHECK (rate >= 0);
ALTER TABLE {{.Destinations}} ADD COLUMN IF NOT EXISTS burst integer NOT NULL DEFAULT 0 CHECK (burst >= 0);
ALTER TABLE {{.Destinations}} ADD COLUMN IF NOT EXISTS rate_tat timestamptz;
