-- outbound outbox, version 6: the trace context of the enqueuing request.
--
-- delivery.Message.TraceParent and TraceState: the W3C trace context of
-- the request that enqueued the record, so that its attempts, made later
-- and perhaps by another process, join that trace. '' means untraced.
-- Columns with a constant default only change the catalog, so adding them
-- rewrites no row.
ALTER TABLE {{.Table}} ADD COLUMN IF NOT EXISTS trace_parent text NOT NULL DEFAULT '';
ALTER TABLE {{.Table}} ADD COLUMN IF NOT EXISTS trace_state text NOT NULL DEFAULT '';
