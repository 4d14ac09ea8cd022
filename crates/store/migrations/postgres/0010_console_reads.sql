-- The console's reads: the order list by age across stages (keyset on stage_entered_at, po),
-- the needs-attention causes grouped by (reason code, subject), and what one run did.
CREATE INDEX orders_entered ON orders (stage_entered_at, po);
CREATE INDEX orders_reason_code ON orders (reason_kind, reason_code, reason_detail);
CREATE INDEX order_events_run ON order_events (run_id);
