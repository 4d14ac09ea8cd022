-- DSCO orders the pull cannot store as orders (no poNumber, so no key), kept by dscoOrderId so
-- that they are visible (`order stuck`) instead of being skipped with a log line on every pull.
-- One row per order however often it is read again; `resolved_at` is set when the order comes
-- back readable and is stored as an order. Times are UTC Unix milliseconds.
CREATE TABLE unreadable_orders (
    dsco_order_id TEXT PRIMARY KEY NOT NULL,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    seen          INTEGER NOT NULL,
    reason_code   TEXT NOT NULL,
    detail        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    resolved_at   INTEGER
);
CREATE INDEX unreadable_orders_open ON unreadable_orders (resolved_at, first_seen);
