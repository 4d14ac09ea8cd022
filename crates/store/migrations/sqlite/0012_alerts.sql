-- Alerts: the state per stable key (open / resolved), the outbox of transitions to deliver, and
-- the deliveries per channel with their attempts and the bot's answer.
CREATE TABLE alerts (
    key         TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    state       TEXT NOT NULL,
    alert       TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    resolved_at INTEGER,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX alerts_state ON alerts (state, updated_at);

CREATE TABLE alert_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key  TEXT NOT NULL,
    transition TEXT NOT NULL,
    alert      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX alert_outbox_created ON alert_outbox (created_at, id);

CREATE TABLE alert_deliveries (
    outbox_id       INTEGER NOT NULL,
    channel         TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    answer          TEXT NOT NULL DEFAULT '',
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER NOT NULL,
    delivered_at    INTEGER,
    PRIMARY KEY (outbox_id, channel)
);
