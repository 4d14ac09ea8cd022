-- Reconciliation findings: what a reconcile run found for one PO (behind, ahead, diverged), with
-- a stable code. One open row per (po, code); a later run that no longer finds it resolves it.
CREATE TABLE reconcile_findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    po          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    code        TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    found_at    INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE INDEX reconcile_findings_po ON reconcile_findings (po, resolved_at);
CREATE INDEX reconcile_findings_open ON reconcile_findings (resolved_at, found_at);
