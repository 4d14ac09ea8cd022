-- dsco-lingxing store, SQLite. Times are UTC Unix milliseconds (INTEGER); JSON is TEXT.
CREATE TABLE orders (
    po                 TEXT PRIMARY KEY NOT NULL,
    dsco_order_id      TEXT,
    retailer_id        TEXT,
    stage              INTEGER NOT NULL CHECK (stage BETWEEN 1 AND 6),
    dsco_status        TEXT,
    dsco_lifecycle     TEXT,
    dsco_created_at    INTEGER,
    dsco_updated_at    INTEGER,
    warehouse_code     TEXT,
    service_level      TEXT,
    skus               TEXT NOT NULL DEFAULT '',
    payload            TEXT NOT NULL,
    store_id           TEXT,
    lingxing_order_nos TEXT NOT NULL DEFAULT '',
    tracking           TEXT NOT NULL DEFAULT '',
    invoice_id         TEXT,
    flags              TEXT NOT NULL DEFAULT '',
    reason_code        TEXT,
    reason_kind        TEXT,
    reason_detail      TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER NOT NULL DEFAULT 0,
    stage_entered_at   INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX orders_stage_due ON orders (stage, next_attempt_at);
CREATE INDEX orders_reason_kind ON orders (reason_kind, stage);
CREATE INDEX orders_retailer ON orders (retailer_id);
CREATE INDEX orders_dsco_created ON orders (dsco_created_at);

CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    po          TEXT NOT NULL,
    at          INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    count       INTEGER NOT NULL DEFAULT 1,
    job         TEXT,
    run_id      TEXT,
    actor       TEXT,
    from_stage  INTEGER,
    to_stage    INTEGER,
    outcome     TEXT NOT NULL,
    reason_code TEXT,
    reason_kind TEXT,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_events_po ON order_events (po, id);

CREATE TABLE intents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    po          TEXT NOT NULL,
    state       TEXT NOT NULL,
    payload     TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_id      TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (kind, key)
);
CREATE INDEX intents_po ON intents (po);
CREATE INDEX intents_state ON intents (kind, state);

CREATE TABLE dsco_requests (
    request_id   TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    keys         TEXT NOT NULL,
    state        TEXT NOT NULL,
    result       TEXT NOT NULL DEFAULT '',
    run_id       TEXT,
    submitted_at INTEGER NOT NULL,
    checked_at   INTEGER,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX dsco_requests_state ON dsco_requests (kind, state);

CREATE TABLE job_runs (
    id            TEXT PRIMARY KEY NOT NULL,
    job           TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    scheduled_for INTEGER,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    outcome       TEXT NOT NULL,
    counts        TEXT NOT NULL DEFAULT '{}',
    error         TEXT,
    holder        TEXT NOT NULL,
    lease_token   INTEGER NOT NULL,
    dry_run       INTEGER NOT NULL DEFAULT 0,
    only_po       TEXT,
    config_version INTEGER
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);

CREATE TABLE rejected_fires (
    job             TEXT NOT NULL,
    blocking_run_id TEXT NOT NULL,
    trigger_kind    TEXT NOT NULL,
    first_at        INTEGER NOT NULL,
    last_at         INTEGER NOT NULL,
    count           INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job, blocking_run_id)
);

CREATE TABLE job_leases (
    job          TEXT PRIMARY KEY NOT NULL,
    holder       TEXT,
    run_id       TEXT,
    token        INTEGER NOT NULL,
    acquired_at  INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    writes       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE runtime_config (
    version    INTEGER PRIMARY KEY NOT NULL,
    config     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE sku_map (
    dsco_sku     TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('manual', 'pair')),
    lingxing_sku TEXT NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (dsco_sku, source)
);
CREATE TABLE sku_map_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO sku_map_version (id, version, updated_at) VALUES (1, 0, 0);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    reason  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE cursors (
    name       TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    run_id     TEXT,
    updated_at INTEGER NOT NULL
);

CREATE TABLE token_cache (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
