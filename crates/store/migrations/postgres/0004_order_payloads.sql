-- DSCO's order (kilobytes of JSON) moves out of `orders` into a table of its own. An order row
-- is now a few hundred bytes, so the stage, reason and view writes that every job run makes
-- touch a tenth of the pages they did, and a payload is written only when DSCO's order changed.
CREATE TABLE order_payloads (
    po      TEXT PRIMARY KEY NOT NULL,
    payload TEXT NOT NULL
);
INSERT INTO order_payloads (po, payload) SELECT po, payload FROM orders;
ALTER TABLE orders DROP COLUMN payload;
-- Job candidates (a stage, oldest first) read in index order: no sort of orders and payloads.
CREATE INDEX orders_stage_order ON orders (stage, stage_entered_at, po);
-- Nothing else looks orders up by these two (the candidates walk the index above), and every
-- stage, mark and back-off write would keep them up to date.
DROP INDEX orders_stage_dirty;
DROP INDEX orders_stage_due;
