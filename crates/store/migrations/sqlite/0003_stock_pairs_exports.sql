-- sync_stock, pull_sku_pair and cleanup_exports. Times are UTC Unix milliseconds; JSON is TEXT;
-- flags are 0/1 integers.

-- One row per sync_stock run: what it read, what the guard decided, whether it was released.
CREATE TABLE stock_sync_runs (
    run_id          TEXT PRIMARY KEY,
    at              INTEGER NOT NULL,
    state           TEXT NOT NULL,
    full_push       INTEGER NOT NULL,
    skus_read       INTEGER NOT NULL,
    skus_changed    INTEGER NOT NULL,
    skus_sent       INTEGER NOT NULL,
    above_zero      INTEGER NOT NULL,
    drops_to_zero   INTEGER NOT NULL,
    note            TEXT NOT NULL,
    released_by     TEXT,
    released_at     INTEGER,
    release_reason  TEXT,
    release_used    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX stock_sync_runs_at ON stock_sync_runs (at);
CREATE INDEX stock_sync_runs_state ON stock_sync_runs (state);

-- The items of a run that changed or were sent: read quantities, sent quantities, DSCO outcome.
CREATE TABLE stock_sync_items (
    run_id        TEXT NOT NULL,
    dsco_sku      TEXT NOT NULL,
    lingxing_sku  TEXT NOT NULL,
    read_wh       TEXT NOT NULL,
    sent_wh       TEXT NOT NULL,
    qty           INTEGER NOT NULL,
    previous_qty  INTEGER,
    sent          INTEGER NOT NULL,
    request_id    TEXT,
    outcome       TEXT NOT NULL,
    message       TEXT NOT NULL,
    at            INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (run_id, dsco_sku)
);
CREATE INDEX stock_sync_items_request ON stock_sync_items (request_id, dsco_sku);
CREATE INDEX stock_sync_items_at ON stock_sync_items (at);
CREATE INDEX stock_sync_items_outcome ON stock_sync_items (outcome);

-- Per DSCO SKU: the last value DSCO confirmed and the last value sent (awaiting confirmation).
CREATE TABLE stock_state (
    dsco_sku        TEXT PRIMARY KEY,
    confirmed_qty   INTEGER,
    confirmed_wh    TEXT,
    confirmed_at    INTEGER,
    sent_qty        INTEGER,
    sent_wh         TEXT,
    sent_request_id TEXT,
    sent_at         INTEGER
);

-- Conflicts found by a pull_sku_pair run (the run changed nothing).
CREATE TABLE sku_pair_conflicts (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    TEXT NOT NULL,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    store_id  TEXT NOT NULL,
    msku      TEXT NOT NULL,
    sku       TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX sku_pair_conflicts_run ON sku_pair_conflicts (run_id);

-- What a run of a non-order job did beyond its counts (pairs applied, files deleted), as JSON.
CREATE TABLE run_details (
    run_id  TEXT PRIMARY KEY,
    job     TEXT NOT NULL,
    at      INTEGER NOT NULL,
    detail  TEXT NOT NULL
);
