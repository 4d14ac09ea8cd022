-- What the order jobs remember between runs: the LingXing view of an order, and whether its
-- far-side state changed since it was last decided.
ALTER TABLE orders ADD COLUMN lx_snapshot TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN lx_checked_at INTEGER;
ALTER TABLE orders ADD COLUMN dirty INTEGER NOT NULL DEFAULT 1;
CREATE INDEX orders_stage_dirty ON orders (stage, dirty);
