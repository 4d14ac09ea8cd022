//! The set-based statements of the batch writes and reads ([`BatchSql`]), built once per backend.

use super::*;

/// The statements of the set-based batch writes and reads, built once per backend, so that a
/// batch costs a fixed number of statements per chunk instead of a few per item: with sqlx every
/// statement is a hand-off to the connection's worker, which costs more than most of these
/// statements take to run.
///
/// The writes ([`ItemSql`]) take a list of items as rows `j`. The reads take a list of keys as
/// one bound JSON array (`$1`), unpacked as a subquery for `IN`.
pub(super) struct BatchSql {
    pub(super) cas_update: ItemSql,
    pub(super) events_insert: ItemSql,
    pub(super) last_events: Arc<str>,
    pub(super) events_bump: ItemSql,
    pub(super) reasons_update: ItemSql,
    pub(super) views_lock: Arc<str>,
    pub(super) stages_lock: Arc<str>,
    pub(super) views_update: ItemSql,
    pub(super) intents_update: ItemSql,
    pub(super) intents_insert: ItemSql,
    pub(super) intents_restart: Arc<str>,
    pub(super) intents_read: Arc<str>,
    pub(super) order_stages: Arc<str>,
    pub(super) dsco_updated_read: Arc<str>,
    pub(super) orders_insert: ItemSql,
    pub(super) payloads_read: Arc<str>,
    pub(super) orders_refresh: ItemSql,
    pub(super) orders_read: Arc<str>,
    pub(super) views_read: Arc<str>,
    pub(super) dirty_mark: Arc<str>,
    pub(super) remark: ItemSql,
    pub(super) intents_of_read: Arc<str>,
    pub(super) tracking_read: Arc<str>,
    pub(super) tracking_update: ItemSql,
    pub(super) invoice_update: ItemSql,
}

/// A set-based write over a list of items, seen by the statement as rows `j` with the columns
/// `cols`. On SQLite the items are bound one value per parameter, as the rows of a `VALUES`
/// (a common table expression `j` leading the statement): carried in a JSON list instead, each
/// `->>` walks the item's keys, and the JSON conversion and lookups were an eighth of SQLite's
/// time in the zero-latency run. On PostgreSQL they go as one JSON parameter (`$1`) unpacked by
/// `jsonb_to_recordset`: one statement text for every number of items.
pub(super) struct ItemSql {
    cols: &'static [JsonCol],
    /// PostgreSQL: the whole statement. SQLite: the statement after `WITH j(…) AS (VALUES …)`,
    /// its further parameters numbered from `$2` as on PostgreSQL.
    body: Arc<str>,
    backend: BackendKind,
}

impl ItemSql {
    pub(super) fn backend(&self) -> BackendKind {
        self.backend
    }

    /// The statement's text for `n` items. On SQLite the items take the first `n × cols`
    /// parameters (anonymous: sqlx reads a numbered parameter's name with a linear scan, which
    /// made a statement of thousands cost a quadratic number of steps) and the further
    /// parameters `$2`, `$3`… become `?k+1`, `?k+2`…, so that they are bound after the items.
    pub(super) fn text(&self, n: usize) -> String {
        match self.backend {
            BackendKind::Postgres => self.body.to_string(),
            BackendKind::Sqlite => {
                let width = self.cols.len();
                let names: Vec<&str> = self.cols.iter().map(|(c, _)| *c).collect();
                let mut sql = String::with_capacity(self.body.len() + 64 + n * (2 * width + 3));
                sql.push_str("WITH j(");
                sql.push_str(&names.join(", "));
                sql.push_str(") AS (");
                if n == 0 {
                    // No rows (a `VALUES` needs one).
                    sql.push_str("SELECT ");
                    sql.push_str(&vec!["NULL"; width].join(", "));
                    sql.push_str(" WHERE false");
                } else {
                    sql.push_str("VALUES ");
                }
                for i in 0..n {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('(');
                    for c in 0..width {
                        if c > 0 {
                            sql.push(',');
                        }
                        sql.push('?');
                    }
                    sql.push(')');
                }
                sql.push_str(") ");
                let mut rest = self.body.as_ref();
                while let Some(at) = rest.find('$') {
                    sql.push_str(&rest[..at]);
                    let digits = rest[at + 1..]
                        .find(|c: char| !c.is_ascii_digit())
                        .map_or(rest.len() - at - 1, |d| d);
                    let k: usize = rest[at + 1..at + 1 + digits]
                        .parse()
                        .expect("a statement parameter is $ and a number from 2");
                    sql.push_str(&format!("?{}", n * width + k - 1));
                    rest = &rest[at + 1 + digits..];
                }
                sql.push_str(rest);
                sql
            }
        }
    }

    /// Whether the statement for `n` items is kept prepared (sqlx's statement cache) for the
    /// next time. On SQLite a statement's text depends on `n`, and a prepared `VALUES` of 500
    /// items costs hundreds of kilobytes: only the full chunk's comes back often enough to keep
    /// (the other sizes, kept too, raised the engine's peak RSS at 100,000 orders by about
    /// 18 MiB). PostgreSQL's text is the same for every `n`.
    pub(super) fn keep(&self, n: usize) -> bool {
        self.backend == BackendKind::Postgres || n == CHUNK
    }

    /// An item's values in the order of the columns (a column the item leaves out is NULL;
    /// a field no column names is not bound).
    pub(super) fn values(&self, mut item: Item) -> impl Iterator<Item = Val> + '_ {
        self.cols.iter().map(move |(c, _)| {
            item.0
                .iter_mut()
                .find(|(k, _)| k == c)
                .map_or(Val::Null, |(_, v)| std::mem::replace(v, Val::Null))
        })
    }
}

/// One value of an [`Item`].
pub(super) enum Val {
    Null,
    Int(i64),
    Text(String),
}

impl Val {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Val::Null => out.extend_from_slice(b"null"),
            Val::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Val::Text(s) => serde_json::to_writer(out, s).expect("a string serializes"),
        }
    }
}

/// A value an item's field can hold: strings, integers and options of them.
pub(super) trait ToVal {
    fn to_val(&self) -> Val;
}

impl ToVal for str {
    fn to_val(&self) -> Val {
        Val::Text(self.to_owned())
    }
}

impl ToVal for String {
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
}

impl ToVal for i64 {
    fn to_val(&self) -> Val {
        Val::Int(*self)
    }
}

impl ToVal for usize {
    fn to_val(&self) -> Val {
        Val::Int(i64::try_from(*self).expect("an index fits in i64"))
    }
}

impl<T: ToVal + ?Sized> ToVal for &T {
    fn to_val(&self) -> Val {
        (**self).to_val()
    }
}

impl<T: ToVal> ToVal for Option<T> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::Null, ToVal::to_val)
    }
}

/// One item of a batch write: its fields by name (see [`ItemSql`]).
pub(super) struct Item(pub(super) Vec<(&'static str, Val)>);

/// The items as one JSON array of objects (PostgreSQL's `$1`).
pub(super) fn items_json(items: Vec<Item>) -> String {
    let mut b = Vec::with_capacity(items.len() * 192 + 2);
    b.push(b'[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            b.push(b',');
        }
        b.push(b'{');
        for (f, (k, v)) in item.0.iter().enumerate() {
            if f > 0 {
                b.push(b',');
            }
            serde_json::to_writer(&mut b, k).expect("a string serializes");
            b.push(b':');
            v.write_json(&mut b);
        }
        b.push(b'}');
    }
    b.push(b']');
    String::from_utf8(b).expect("JSON written from Rust strings is UTF-8")
}

impl BatchSql {
    pub(super) fn new(backend: BackendKind) -> BatchSql {
        // A write over items: `write` makes the statement from its row source `j`.
        let items = |cols: &'static [JsonCol], write: &dyn Fn(&str) -> String| -> ItemSql {
            let source = match backend {
                BackendKind::Sqlite => "j".to_string(),
                BackendKind::Postgres => {
                    let list: Vec<String> = cols.iter().map(|(c, t)| format!("{c} {t}")).collect();
                    format!("jsonb_to_recordset($1::jsonb) AS j({})", list.join(", "))
                }
            };
            ItemSql {
                cols,
                body: Arc::from(write(&source)),
                backend,
            }
        };
        // `$1`, a JSON array of strings, as a one-column subquery (for `IN`).
        let list = match backend {
            BackendKind::Sqlite => "SELECT value FROM json_each($1)",
            BackendKind::Postgres => "SELECT jsonb_array_elements_text($1::jsonb)",
        };
        let s = |sql: String| -> Arc<str> { Arc::from(sql) };
        BatchSql {
            cas_update: items(
                &[
                    ("po", TEXT),
                    ("at", INT),
                    ("from_stage", INT),
                    ("to_stage", INT),
                ],
                &|j| {
                    format!(
                        "UPDATE orders SET stage = j.to_stage, stage_entered_at = j.at, updated_at = j.at, reason_code = NULL, \
                   reason_kind = NULL, reason_detail = NULL, attempts = 0, next_attempt_at = 0, dirty = 1, \
                   marks = orders.marks + 1, ignored_at = NULL \
                 FROM {j} WHERE orders.po = j.po AND orders.stage = j.from_stage RETURNING orders.po"
                    )
                },
            ),
            events_insert: items(
                &[
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
                ],
                &|j| {
                    format!(
                        "INSERT INTO order_events (po, at, last_at, count, job, run_id, actor, from_stage, to_stage, outcome, \
                   reason_code, reason_kind, detail) \
                 SELECT j.po, j.at, j.last_at, j.count, j.job, j.run_id, j.actor, j.from_stage, j.to_stage, j.outcome, \
                   j.reason_code, j.reason_kind, j.detail FROM {j} ORDER BY j.idx"
                    )
                },
            ),
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
            events_bump: items(
                &[
                    ("id", INT),
                    ("inc", INT),
                    ("last_at", INT),
                    ("run_id", TEXT),
                ],
                &|j| {
                    format!(
                        "UPDATE order_events SET count = order_events.count + j.inc, last_at = j.last_at, run_id = j.run_id \
                 FROM {j} WHERE order_events.id = j.id"
                    )
                },
            ),
            reasons_update: items(
                &[
                    ("po", TEXT),
                    ("reason_code", TEXT),
                    ("reason_kind", TEXT),
                    ("detail", TEXT),
                    ("inc", INT),
                    ("next_at", INT),
                    ("at", INT),
                ],
                &|j| {
                    format!(
                        "UPDATE orders SET reason_code = j.reason_code, reason_kind = j.reason_kind, reason_detail = j.detail, \
                   attempts = orders.attempts + j.inc, next_attempt_at = j.next_at, updated_at = j.at, dirty = 0 \
                 FROM {j} WHERE orders.po = j.po"
                    )
                },
            ),
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
            views_update: items(
                &[
                    ("po", TEXT),
                    ("snap", TEXT),
                    ("order_nos", TEXT),
                    ("store_id", TEXT),
                    ("changed", INT),
                ],
                &|j| {
                    format!(
                        "UPDATE orders SET lx_snapshot = j.snap, lx_checked_at = $2, \
                   lingxing_order_nos = COALESCE(j.order_nos, orders.lingxing_order_nos), \
                   store_id = COALESCE(j.store_id, orders.store_id), \
                   dirty = CASE WHEN j.changed = 1 THEN 1 ELSE orders.dirty END, marks = orders.marks + j.changed \
                 FROM {j} WHERE orders.po = j.po"
                    )
                },
            ),
            // The kind comes with each item: compared with a bound `$n` instead, it leads
            // SQLite to loop over every intent of the kind and scan the items for each.
            intents_update: items(
                &[
                    ("kind", TEXT),
                    ("k", TEXT),
                    ("state", TEXT),
                    ("outcome", TEXT),
                    ("inc", INT),
                ],
                &|j| {
                    format!(
                        "UPDATE intents SET state = j.state, outcome = j.outcome, updated_at = $2, \
                   attempts = intents.attempts + j.inc \
                 FROM {j} WHERE intents.kind = j.kind AND intents.key = j.k"
                    )
                },
            ),
            // `WHERE true`: SQLite needs a WHERE before an upsert's ON CONFLICT after a SELECT.
            intents_insert: items(
                &[("idx", INT), ("k", TEXT), ("po", TEXT), ("payload", TEXT)],
                &|j| {
                    format!(
                        "INSERT INTO intents (kind, key, po, state, payload, outcome, attempts, run_id, created_at, updated_at) \
                 SELECT $2, j.k, j.po, 'pending', j.payload, '', 0, $3, $4, $4 FROM {j} WHERE true ORDER BY j.idx \
                 ON CONFLICT (kind, key) DO NOTHING"
                    )
                },
            ),
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
            orders_insert: items(
                &[
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
                ],
                &|j| {
                    format!(
                        "INSERT INTO orders (po, dsco_order_id, retailer_id, stage, dsco_status, dsco_lifecycle, \
                   dsco_created_at, dsco_updated_at, warehouse_code, service_level, skus, \
                   stage_entered_at, created_at, updated_at) \
                 SELECT j.po, j.dsco_order_id, j.retailer_id, j.stage, j.dsco_status, j.dsco_lifecycle, \
                   j.dsco_created_at, j.dsco_updated_at, j.warehouse_code, j.service_level, j.skus, \
                   $2, $2, $2 FROM {j} ORDER BY j.idx"
                    )
                },
            ),
            // A pull's refresh: DSCO's fields merged, nothing a later stage wrote touched.
            orders_refresh: items(
                &[
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
                ],
                &|j| {
                    format!(
                        "UPDATE orders SET dsco_order_id = COALESCE(j.dsco_order_id, orders.dsco_order_id), \
                   retailer_id = COALESCE(j.retailer_id, orders.retailer_id), \
                   dsco_status = COALESCE(j.dsco_status, orders.dsco_status), \
                   dsco_lifecycle = COALESCE(j.dsco_lifecycle, orders.dsco_lifecycle), \
                   dsco_created_at = COALESCE(j.dsco_created_at, orders.dsco_created_at), \
                   dsco_updated_at = COALESCE(j.dsco_updated_at, orders.dsco_updated_at), \
                   warehouse_code = COALESCE(j.warehouse_code, orders.warehouse_code), \
                   service_level = COALESCE(j.service_level, orders.service_level), skus = j.skus, \
                   dirty = CASE WHEN j.changed = 1 THEN 1 ELSE orders.dirty END, marks = orders.marks + j.changed, updated_at = $2 \
                 FROM {j} WHERE orders.po = j.po"
                    )
                },
            ),
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
            remark: items(&[("po", TEXT), ("seen", INT)], &|j| {
                format!(
                    "UPDATE orders SET dirty = 1 FROM {j} WHERE orders.po = j.po AND orders.marks <> j.seen \
                 RETURNING orders.po"
                )
            }),
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
            tracking_update: items(&[("po", TEXT), ("v", TEXT)], &|j| {
                format!("UPDATE orders SET tracking = j.v FROM {j} WHERE orders.po = j.po")
            }),
            invoice_update: items(&[("po", TEXT), ("v", TEXT)], &|j| {
                format!("UPDATE orders SET invoice_id = j.v FROM {j} WHERE orders.po = j.po")
            }),
        }
    }
}
