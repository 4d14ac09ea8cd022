//! The set-based statements of the batch writes and reads ([`BatchSql`]), built once per backend.

use super::*;

/// The statements of the set-based batch writes and reads, built once per backend. Each takes
/// its items as one bound JSON text parameter (`$1`), unpacked into a row source `j` (SQLite's
/// `json_each`, PostgreSQL's `jsonb_to_recordset`), so a batch costs a fixed number of
/// statements per chunk instead of a few per item: with sqlx every statement is a hand-off to
/// the connection's worker, which costs more than most of these statements take to run.
pub(super) struct BatchSql {
    pub(super) cas_update: Arc<str>,
    pub(super) events_insert: Arc<str>,
    pub(super) last_events: Arc<str>,
    pub(super) events_bump: Arc<str>,
    pub(super) reasons_update: Arc<str>,
    pub(super) views_lock: Arc<str>,
    pub(super) stages_lock: Arc<str>,
    pub(super) views_update: Arc<str>,
    pub(super) intents_update: Arc<str>,
    pub(super) intents_insert: Arc<str>,
    pub(super) intents_restart: Arc<str>,
    pub(super) intents_read: Arc<str>,
    pub(super) order_stages: Arc<str>,
    pub(super) dsco_updated_read: Arc<str>,
    pub(super) orders_insert: Arc<str>,
    pub(super) payloads_read: Arc<str>,
    pub(super) orders_refresh: Arc<str>,
    pub(super) orders_read: Arc<str>,
    pub(super) views_read: Arc<str>,
    pub(super) dirty_mark: Arc<str>,
    pub(super) remark: Arc<str>,
    pub(super) intents_of_read: Arc<str>,
    pub(super) tracking_read: Arc<str>,
    pub(super) tracking_update: Arc<str>,
    pub(super) invoice_update: Arc<str>,
}

impl BatchSql {
    pub(super) fn new(backend: BackendKind) -> BatchSql {
        // On SQLite, the list is converted to the binary JSONB once (`jsonb_each` answers each
        // item as a JSONB slice of it), kept in a materialized `r`: every `->>` on JSON text
        // would parse the whole item again (13 columns of an order with its DSCO payload: 13
        // parses of kilobytes), on JSONB it is a lookup.
        let with = match backend {
            BackendKind::Sqlite => {
                "WITH r AS MATERIALIZED (SELECT value AS v FROM jsonb_each($1)) "
            }
            BackendKind::Postgres => "",
        };
        // `$1` as rows `j` with the named columns (on SQLite, `with` must lead the statement).
        let rows = |cols: &[JsonCol]| -> String {
            match backend {
                BackendKind::Sqlite => {
                    let list: Vec<String> = cols
                        .iter()
                        .map(|(c, _)| format!("v ->> '{c}' AS {c}"))
                        .collect();
                    format!("(SELECT {} FROM r) AS j", list.join(", "))
                }
                BackendKind::Postgres => {
                    let list: Vec<String> = cols.iter().map(|(c, t)| format!("{c} {t}")).collect();
                    format!("jsonb_to_recordset($1::jsonb) AS j({})", list.join(", "))
                }
            }
        };
        // `$1`, a JSON array of strings, as a one-column subquery (for `IN`).
        let list = match backend {
            BackendKind::Sqlite => "SELECT value FROM json_each($1)",
            BackendKind::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let s = |sql: String| -> Arc<str> { Arc::from(sql) };
        BatchSql {
            cas_update: s(format!(
                "{with}UPDATE orders SET stage = j.to_stage, stage_entered_at = j.at, updated_at = j.at, reason_code = NULL, \
                   reason_kind = NULL, reason_detail = NULL, attempts = 0, next_attempt_at = 0, dirty = 1, \
                   marks = orders.marks + 1, ignored_at = NULL \
                 FROM {} WHERE orders.po = j.po AND orders.stage = j.from_stage RETURNING orders.po",
                rows(&[
                    ("po", TEXT),
                    ("at", INT),
                    ("from_stage", INT),
                    ("to_stage", INT),
                ])
            )),
            events_insert: s(format!(
                "{with}INSERT INTO order_events (po, at, last_at, count, job, run_id, actor, from_stage, to_stage, outcome, \
                   reason_code, reason_kind, detail) \
                 SELECT j.po, j.at, j.last_at, j.count, j.job, j.run_id, j.actor, j.from_stage, j.to_stage, j.outcome, \
                   j.reason_code, j.reason_kind, j.detail FROM {} ORDER BY j.idx",
                rows(&[
                    ("idx", INT),
                    ("po", TEXT),
                    ("at", INT),
                    ("last_at", INT),
                    ("count", INT),
                    ("job", TEXT),
                    ("run_id", TEXT),
                    ("actor", TEXT),
                    ("from_stage", INT),
                    ("to_stage", INT),
                    ("outcome", TEXT),
                    ("reason_code", TEXT),
                    ("reason_kind", TEXT),
                    ("detail", TEXT),
                ])
            )),
            // The skipped orders' stages with their latest events (none for an order without
            // any): a skip lands only at its stage, and an identical skip folds into the latest
            // event. Locked on PostgreSQL, as `views_lock`. (A PO the store has no order for
            // reads nothing: its skip is recorded as a new event.)
            last_events: s(format!(
                "SELECT o.po AS order_po, o.stage AS order_stage, e.id, e.po, e.at, e.last_at, e.count, \
                   e.job, e.run_id, e.actor, e.from_stage, e.to_stage, e.outcome, e.reason_code, \
                   e.reason_kind, e.detail \
                 FROM orders o LEFT JOIN order_events e \
                   ON e.id = (SELECT MAX(m.id) FROM order_events m WHERE m.po = o.po) \
                 WHERE o.po IN ({list}){}",
                match backend {
                    BackendKind::Sqlite => "",
                    BackendKind::Postgres => " ORDER BY o.po FOR UPDATE OF o",
                }
            )),
            events_bump: s(format!(
                "{with}UPDATE order_events SET count = order_events.count + j.inc, last_at = j.last_at, run_id = j.run_id \
                 FROM {} WHERE order_events.id = j.id",
                rows(&[
                    ("id", INT),
                    ("inc", INT),
                    ("last_at", INT),
                    ("run_id", TEXT),
                ])
            )),
            reasons_update: s(format!(
                "{with}UPDATE orders SET reason_code = j.reason_code, reason_kind = j.reason_kind, reason_detail = j.detail, \
                   attempts = orders.attempts + j.inc, next_attempt_at = j.next_at, updated_at = j.at, dirty = 0 \
                 FROM {} WHERE orders.po = j.po",
                rows(&[
                    ("po", TEXT),
                    ("reason_code", TEXT),
                    ("reason_kind", TEXT),
                    ("detail", TEXT),
                    ("inc", INT),
                    ("next_at", INT),
                    ("at", INT),
                ])
            )),
            // The stored views a write lands on, read inside the write's transaction. SQLite's
            // write transactions exclude each other already (BEGIN IMMEDIATE); on PostgreSQL the
            // rows are locked, in one order so that two writers cannot deadlock on them.
            views_lock: s(match backend {
                BackendKind::Sqlite => {
                    format!("SELECT po, lx_snapshot FROM orders WHERE po IN ({list})")
                }
                BackendKind::Postgres => format!(
                    "SELECT po, lx_snapshot FROM orders WHERE po IN ({list}) ORDER BY po FOR UPDATE"
                ),
            }),
            // The stages a batch of skips lands on, read inside the skips' transaction (locked
            // on PostgreSQL, as `views_lock`): a skip decided at a stage the order has left since
            // is dropped (`OrderStore::record_events`).
            stages_lock: s(match backend {
                BackendKind::Sqlite => format!("SELECT po, stage FROM orders WHERE po IN ({list})"),
                BackendKind::Postgres => format!(
                    "SELECT po, stage FROM orders WHERE po IN ({list}) ORDER BY po FOR UPDATE"
                ),
            }),
            views_update: s(format!(
                "{with}UPDATE orders SET lx_snapshot = j.snap, lx_checked_at = $2, \
                   lingxing_order_nos = COALESCE(j.order_nos, orders.lingxing_order_nos), \
                   store_id = COALESCE(j.store_id, orders.store_id), \
                   dirty = CASE WHEN j.changed = 1 THEN 1 ELSE orders.dirty END, marks = orders.marks + j.changed \
                 FROM {} WHERE orders.po = j.po",
                rows(&[
                    ("po", TEXT),
                    ("snap", TEXT),
                    ("order_nos", TEXT),
                    ("store_id", TEXT),
                    ("changed", INT),
                ])
            )),
            // The kind comes with each item: compared with a bound `$n` instead, it leads
            // SQLite to loop over every intent of the kind and scan the items for each.
            intents_update: s(format!(
                "{with}UPDATE intents SET state = j.state, outcome = j.outcome, updated_at = $2, \
                   attempts = intents.attempts + j.inc \
                 FROM {} WHERE intents.kind = j.kind AND intents.key = j.k",
                rows(&[
                    ("kind", TEXT),
                    ("k", TEXT),
                    ("state", TEXT),
                    ("outcome", TEXT),
                    ("inc", INT),
                ])
            )),
            // `WHERE true`: SQLite needs a WHERE before an upsert's ON CONFLICT after a SELECT.
            intents_insert: s(format!(
                "{with}INSERT INTO intents (kind, key, po, state, payload, outcome, attempts, run_id, created_at, updated_at) \
                 SELECT $2, j.k, j.po, 'pending', j.payload, '', 0, $3, $4, $4 FROM {} WHERE true ORDER BY j.idx \
                 ON CONFLICT (kind, key) DO NOTHING",
                rows(&[("idx", INT), ("k", TEXT), ("po", TEXT), ("payload", TEXT)])
            )),
            intents_restart: s(format!(
                "UPDATE intents SET state = 'pending', outcome = '', updated_at = $2 WHERE kind = $3 AND key IN ({list})"
            )),
            intents_read: s(format!(
                concat!(
                    "SELECT ",
                    intent_cols!(),
                    " FROM intents WHERE kind = $2 AND key IN ({})"
                ),
                list
            )),
            order_stages: s(format!("SELECT po, stage FROM orders WHERE po IN ({list})")),
            dsco_updated_read: s(format!(
                "SELECT po, dsco_updated_at FROM orders WHERE po IN ({list})"
            )),
            payloads_read: s(format!(
                "SELECT po, payload FROM order_payloads WHERE po IN ({list})"
            )),
            orders_insert: s(format!(
                "{with}INSERT INTO orders (po, dsco_order_id, retailer_id, stage, dsco_status, dsco_lifecycle, \
                   dsco_created_at, dsco_updated_at, warehouse_code, service_level, skus, \
                   stage_entered_at, created_at, updated_at) \
                 SELECT j.po, j.dsco_order_id, j.retailer_id, j.stage, j.dsco_status, j.dsco_lifecycle, \
                   j.dsco_created_at, j.dsco_updated_at, j.warehouse_code, j.service_level, j.skus, \
                   $2, $2, $2 FROM {} ORDER BY j.idx",
                rows(&[
                    ("idx", INT),
                    ("po", TEXT),
                    ("dsco_order_id", TEXT),
                    ("retailer_id", TEXT),
                    ("stage", INT),
                    ("dsco_status", TEXT),
                    ("dsco_lifecycle", TEXT),
                    ("dsco_created_at", INT),
                    ("dsco_updated_at", INT),
                    ("warehouse_code", TEXT),
                    ("service_level", TEXT),
                    ("skus", TEXT),
                ])
            )),
            // A pull's refresh: DSCO's fields merged, nothing a later stage wrote touched.
            orders_refresh: s(format!(
                "{with}UPDATE orders SET dsco_order_id = COALESCE(j.dsco_order_id, orders.dsco_order_id), \
                   retailer_id = COALESCE(j.retailer_id, orders.retailer_id), \
                   dsco_status = COALESCE(j.dsco_status, orders.dsco_status), \
                   dsco_lifecycle = COALESCE(j.dsco_lifecycle, orders.dsco_lifecycle), \
                   dsco_created_at = COALESCE(j.dsco_created_at, orders.dsco_created_at), \
                   dsco_updated_at = COALESCE(j.dsco_updated_at, orders.dsco_updated_at), \
                   warehouse_code = COALESCE(j.warehouse_code, orders.warehouse_code), \
                   service_level = COALESCE(j.service_level, orders.service_level), skus = j.skus, \
                   dirty = CASE WHEN j.changed = 1 THEN 1 ELSE orders.dirty END, marks = orders.marks + j.changed, updated_at = $2 \
                 FROM {} WHERE orders.po = j.po",
                rows(&[
                    ("po", TEXT),
                    ("dsco_order_id", TEXT),
                    ("retailer_id", TEXT),
                    ("dsco_status", TEXT),
                    ("dsco_lifecycle", TEXT),
                    ("dsco_created_at", INT),
                    ("dsco_updated_at", INT),
                    ("warehouse_code", TEXT),
                    ("service_level", TEXT),
                    ("skus", TEXT),
                    ("changed", INT),
                ])
            )),
            orders_read: s(format!(
                concat!("SELECT ", order_cols!(), " FROM orders WHERE po IN ({})"),
                list
            )),
            views_read: s(format!(
                "SELECT po, lx_snapshot, lx_checked_at FROM orders WHERE po IN ({list})"
            )),
            dirty_mark: s(format!(
                "UPDATE orders SET dirty = 1, marks = marks + 1 WHERE po IN ({list})"
            )),
            remark: s(format!(
                "{with}UPDATE orders SET dirty = 1 FROM {} WHERE orders.po = j.po AND orders.marks <> j.seen \
                 RETURNING orders.po",
                rows(&[("po", TEXT), ("seen", INT)])
            )),
            intents_of_read: s(format!(
                concat!(
                    "SELECT ",
                    intent_cols_bare!(),
                    " FROM intents WHERE po IN ({}) AND kind IN ({}) ORDER BY id"
                ),
                list,
                list.replace("$1", "$2")
            )),
            tracking_read: s(format!(
                "SELECT po, tracking FROM orders WHERE po IN ({list})"
            )),
            tracking_update: s(format!(
                "{with}UPDATE orders SET tracking = j.v FROM {} WHERE orders.po = j.po",
                rows(&[("po", TEXT), ("v", TEXT)])
            )),
            invoice_update: s(format!(
                "{with}UPDATE orders SET invoice_id = j.v FROM {} WHERE orders.po = j.po",
                rows(&[("po", TEXT), ("v", TEXT)])
            )),
        }
    }
}
