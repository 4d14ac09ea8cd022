-- The predecessor's (the Go service's) stock-sync log `dsco_warehouse_sync`, brought in by
-- `import legacy` as it was: its rows are per (DSCO warehouse, SKU) with LingXing's count beside
-- DSCO's, which has no place in this service's own stock records (per-SKU runs and items whose
-- sent values drive the next sync), so they are kept apart for reading and export. `row_key`
-- (a hash of the row's columns) makes a second import add nothing. `sync_time` and
-- `imported_at` are UTC Unix milliseconds.
CREATE TABLE legacy_stock_log (
    row_key                TEXT PRIMARY KEY NOT NULL,
    sync_time              BIGINT,
    dsco_warehouse_id      TEXT,
    dsco_warehouse_sku     TEXT,
    dsco_warehouse_num     BIGINT,
    lingxing_warehouse_id  TEXT,
    lingxing_warehouse_sku TEXT,
    lingxing_warehouse_num BIGINT,
    diff                   BIGINT,
    status                 BIGINT,
    reason                 TEXT,
    imported_at            BIGINT NOT NULL
);
CREATE INDEX legacy_stock_log_time ON legacy_stock_log (sync_time);
