//! The one SQL implementation of [`Store`], compiled for SQLite and for PostgreSQL.
//!
//! # How the writes stay cheap and correct
//!
//! A transaction that fails mid-way is rolled back and its connection goes back to the pool clean:
//! when SQLite already rolled the whole transaction back by itself (SQLITE_FULL, IOERR), sqlx's own
//! ROLLBACK fails and would leave the connection counted inside a transaction, so the pool's
//! release check (`release_clean`) closes such a connection instead. A full disk and a read-only
//! database are errors of their own (`StoreError::DiskFull`, `ReadOnly`) that say what to do; the
//! runner records them with the run and `/readyz` shows them. The batch forms (`put_intents`,
//! `update_intents`, `record_events`, `cas_stages`, `set_lingxing_views`, `upsert_pulled_many`)
//! apply a whole batch in one fenced transaction with the same per-item rules as the single forms,
//! which delegate to them: a job writes a far-side call's intents, its outcome and its orders'
//! skips in three transactions, not three per order. Each batch form is set-based: its items travel
//! as one JSON parameter per chunk of 500 (`jsonb_each` on SQLite, converting the list to JSONB
//! once; `jsonb_to_recordset` on PostgreSQL), written straight to JSON text by `item!` (pulled
//! payloads, kilobytes each, are bound as parameters of one multi-row upsert instead), and cost a
//! handful of statements per chunk, whatever their number; a PO named twice in one batch is
//! resolved in Rust so that the result equals the one-by-one calls (tests compare the two on twin
//! stores). In the jobs, a pass over a batch collects its decisions (`Outcomes`: skips and stage
//! moves) and writes them when the pass ends, and reads what it needs per batch (`lingxing_views`,
//! `intents`, `intents_of` for the intent kinds it uses, `orders_by_po`, or only `stages_of` /
//! `payloads_of` when that is all it needs); decisions lost to a crash are made again next run from
//! the same state, and far-side writes never wait there (their intents are stored before the call).
//!
//! DSCO's order is kept as the JSON text DSCO sent (`RawJson`), from the HTTP page to the store:
//! nothing rebuilds it, and the rules' view is read from the text by a typed reader that skips the
//! fields it does not use. It lives in `order_payloads`, apart from the order row, and is written
//! only when it changed, so the writes every run makes (stage, reason, view, marks) touch small
//! rows; an identical re-pull writes nothing. Candidates come out of the index on `(stage,
//! stage_entered_at, po)` in their order, so no sort copies orders with their payloads.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::order::RawJson;
use domain::{JobName, PoNumber, ReasonKind, RunCounts, RunOutcome, RuntimeConfig, Stage, Trigger};
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row, Type};

use crate::*;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The SQL store over SQLite or PostgreSQL.
pub struct SqlStore {
    pool: Pool,
    batch: BatchSql,
    /// SQLite's page limit for tests (0: none), applied to every connection the pool opens.
    page_limit: Arc<AtomicU64>,
}

/// Runs `$body` with `$p` bound to the concrete pool, compiling the same code for each backend.
macro_rules! with_pool {
    ($s:expr, $p:ident => $body:expr) => {
        match &$s.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

/// Inside a write transaction: fail with `Fenced` unless the run's lease token still matches.
/// Being an UPDATE, it is also the transaction's first write (see the crate invariants).
macro_rules! check_fence {
    ($tx:expr, $fence:expr) => {{
        let f: &Fence = $fence;
        let n =
            sqlx::query("UPDATE job_leases SET writes = writes + 1 WHERE job = $1 AND token = $2")
                .bind(f.job.as_str())
                .bind(f.token)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
        if n != 1 {
            return Err(StoreError::Fenced {
                job: f.job,
                token: f.token,
            });
        }
    }};
}

/// A fenced write: `$body` runs in a write transaction whose first statement is the fence check
/// (see `check_fence!`), and the transaction commits after it; an early `return` or `?` rolls it
/// back. Evaluates to `$body`'s value.
macro_rules! fenced {
    ($s:expr, $fence:expr, $tx:ident => $body:block) => {
        with_pool!($s, p => {
            let mut $tx = p.begin_write().await?;
            check_fence!($tx, $fence);
            let out = $body;
            $tx.commit().await?;
            out
        })
    };
}

/// Inside a write transaction: moves `mapping.sku` to the next version if it is still at
/// `expected` (compare-and-swap), else fails with `VersionConflict` naming the current version.
macro_rules! bump_sku_version {
    ($tx:expr, $expected:expr, $now:expr) => {{
        let expected: i64 = $expected;
        let n = sqlx::query("UPDATE sku_map_version SET version = version + 1, updated_at = $1 WHERE id = 1 AND version = $2")
            .bind(ms($now))
            .bind(expected)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if n != 1 {
            let actual = sqlx::query("SELECT version FROM sku_map_version WHERE id = 1")
                .fetch_one(&mut *$tx)
                .await?
                .i64("version")?;
            return Err(StoreError::VersionConflict {
                what: "mapping.sku",
                expected,
                actual,
            });
        }
    }};
}

/// Inserts one order event inside a transaction.
macro_rules! insert_event {
    ($tx:expr, $e:expr) => {{
        let e: &NewEvent = $e;
        sqlx::query(
            "INSERT INTO order_events (po, at, last_at, count, job, run_id, actor, from_stage, to_stage, outcome, \
               reason_code, reason_kind, detail) VALUES ($1, $2, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(e.po.as_str())
        .bind(ms(e.at))
        .bind(e.job.map(|j| j.as_str()))
        .bind(e.run_id.as_deref())
        .bind(e.actor.as_deref())
        .bind(e.from_stage.map(|s| s.number()))
        .bind(e.to_stage.map(|s| s.number()))
        .bind(e.outcome.as_str())
        .bind(e.reason_code.as_deref())
        .bind(e.reason_kind.map(|k| k.as_str()))
        .bind(&e.detail)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Inside a write transaction: records one event (see `Store::record_event`).
macro_rules! record_event_in {
    ($tx:expr, $e:expr, $next:expr) => {{
        let e: &NewEvent = $e;
        let next_attempt_at: Option<DateTime<Utc>> = $next;
        // Only a skip can fold into the previous event, so only a skip needs to read it.
        let last = if e.outcome == EventOutcome::Skipped {
            sqlx::query(concat!(
                "SELECT ", event_cols!(), " FROM order_events WHERE po = $1 ORDER BY id DESC LIMIT 1"
            ))
            .bind(e.po.as_str())
            .fetch_optional(&mut *$tx)
            .await?
            .map(|r| event_from(&r))
            .transpose()?
        } else {
            None
        };
        match last.filter(|l| folds_into(&l.event, e)) {
            Some(l) => {
                sqlx::query("UPDATE order_events SET count = count + 1, last_at = $1, run_id = $2 WHERE id = $3")
                    .bind(ms(e.at))
                    .bind(e.run_id.as_deref())
                    .bind(l.id)
                    .execute(&mut *$tx)
                    .await?;
            }
            None => insert_event!($tx, e),
        }
        if e.outcome == EventOutcome::Skipped {
            sqlx::query(
                "UPDATE orders SET reason_code = $1, reason_kind = $2, reason_detail = $3, attempts = attempts + 1, \
                   next_attempt_at = $4, updated_at = $5, dirty = 0 WHERE po = $6",
            )
            .bind(e.reason_code.as_deref())
            .bind(e.reason_kind.map(|k| k.as_str()))
            .bind(&e.detail)
            .bind(next_attempt_at.map(ms).unwrap_or(0))
            .bind(ms(e.at))
            .bind(e.po.as_str())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Inside a write transaction: merges one pulled order (see `Store::upsert_pulled`); evaluates
/// to its `Upserted`.
macro_rules! upsert_pulled_in {
    ($tx:expr, $o:expr, $initial:expr, $run_id:expr, $now:expr, $fence:expr) => {{
        let o: &PulledOrder = $o;
        let initial_stage: Stage = $initial;
        let run_id: Option<&str> = $run_id;
        let now: DateTime<Utc> = $now;
        let fence: &Fence = $fence;
        let payload = o.payload.get().to_owned();
            let existing = sqlx::query("SELECT stage FROM orders WHERE po = $1")
                .bind(o.po.as_str())
                .fetch_optional(&mut *$tx)
                .await?
                .map(|r| r.i64("stage"))
                .transpose()?;
            let out = match existing {
                Some(stage) => {
                    // The payload first, written only when it changed; then, only then, the
                    // order's DSCO fields (all read from the payload) and its dirty mark. Merge
                    // only: stage and everything later stages wrote (LingXing numbers, tracking,
                    // invoice, reason) are left alone.
                    let wrote = sqlx::query(PAYLOAD_UPSERT)
                        .bind(o.po.as_str())
                        .bind(&payload)
                        .fetch_optional(&mut *$tx)
                        .await?
                        .is_some();
                    if wrote {
                        sqlx::query(
                            "UPDATE orders SET dsco_order_id = COALESCE($1, dsco_order_id), retailer_id = COALESCE($2, retailer_id), \
                               dsco_status = COALESCE($3, dsco_status), dsco_lifecycle = COALESCE($4, dsco_lifecycle), \
                               dsco_created_at = COALESCE($5, dsco_created_at), dsco_updated_at = COALESCE($6, dsco_updated_at), \
                               warehouse_code = COALESCE($7, warehouse_code), service_level = COALESCE($8, service_level), \
                               skus = $9, dirty = 1, marks = marks + 1, updated_at = $10 WHERE po = $11",
                        )
                        .bind(o.dsco_order_id.as_deref())
                        .bind(o.retailer_id.as_deref())
                        .bind(o.dsco_status.as_deref())
                        .bind(o.dsco_lifecycle.as_deref())
                        .bind(o.dsco_created_at.map(ms))
                        .bind(o.dsco_updated_at.map(ms))
                        .bind(o.warehouse_code.as_deref())
                        .bind(o.service_level.as_deref())
                        .bind(&o.skus)
                        .bind(ms(now))
                        .bind(o.po.as_str())
                        .execute(&mut *$tx)
                        .await?;
                    }
                    Upserted::Refreshed(stage_of("orders", stage)?)
                }
                None => {
                    sqlx::query(
                        "INSERT INTO orders (po, dsco_order_id, retailer_id, stage, dsco_status, dsco_lifecycle, \
                           dsco_created_at, dsco_updated_at, warehouse_code, service_level, skus, \
                           stage_entered_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12)",
                    )
                    .bind(o.po.as_str())
                    .bind(o.dsco_order_id.as_deref())
                    .bind(o.retailer_id.as_deref())
                    .bind(initial_stage.number())
                    .bind(o.dsco_status.as_deref())
                    .bind(o.dsco_lifecycle.as_deref())
                    .bind(o.dsco_created_at.map(ms))
                    .bind(o.dsco_updated_at.map(ms))
                    .bind(o.warehouse_code.as_deref())
                    .bind(o.service_level.as_deref())
                    .bind(&o.skus)
                    .bind(ms(now))
                    .execute(&mut *$tx)
                    .await?;
                    sqlx::query(PAYLOAD_UPSERT)
                        .bind(o.po.as_str())
                        .bind(&payload)
                        .execute(&mut *$tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO order_events (po, at, last_at, count, job, run_id, from_stage, to_stage, outcome, detail) \
                         VALUES ($1, $2, $2, 1, $3, $4, NULL, $5, $6, $7)",
                    )
                    .bind(o.po.as_str())
                    .bind(ms(now))
                    .bind(fence.job.as_str())
                    .bind(run_id)
                    .bind(initial_stage.number())
                    .bind(EventOutcome::Pulled.as_str())
                    .bind(format!(
                        "DSCO status {}",
                        o.dsco_status.as_deref().unwrap_or("unknown")
                    ))
                    .execute(&mut *$tx)
                    .await?;
                    Upserted::Inserted(initial_stage)
                }
            };
        out
    }};
}

/// Stores an order's DSCO payload, writing it only when it changed; answers the PO when it wrote.
const PAYLOAD_UPSERT: &str = "INSERT INTO order_payloads (po, payload) VALUES ($1, $2) \
     ON CONFLICT (po) DO UPDATE SET payload = excluded.payload \
     WHERE order_payloads.payload <> excluded.payload RETURNING po";

/// [`PAYLOAD_UPSERT`] for `n` orders at once (`$1, $2` the first PO and payload, and so on);
/// answers the POs whose payload it wrote (new or changed).
fn payloads_upsert(n: usize) -> String {
    let mut sql = String::with_capacity(160 + n * 16);
    sql.push_str("INSERT INTO order_payloads (po, payload) VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
    }
    sql.push_str(
        " ON CONFLICT (po) DO UPDATE SET payload = excluded.payload \
         WHERE order_payloads.payload <> excluded.payload RETURNING po",
    );
    sql
}

macro_rules! intent_cols {
    () => {
        "id, kind, key, po, state, payload, outcome, attempts, run_id, created_at, updated_at"
    };
}

/// An order's columns; its payload from `order_payloads` (empty if missing, which then reads as an
/// unreadable payload on that order alone instead of failing the whole read).
macro_rules! order_cols {
    () => {
        "po, dsco_order_id, retailer_id, stage, dsco_status, dsco_lifecycle, dsco_created_at, \
         dsco_updated_at, warehouse_code, service_level, skus, \
         COALESCE((SELECT p.payload FROM order_payloads p WHERE p.po = orders.po), '') AS payload, store_id, \
         lingxing_order_nos, tracking, invoice_id, flags, reason_code, reason_kind, reason_detail, \
         attempts, next_attempt_at, stage_entered_at, created_at, updated_at, marks"
    };
}

/// The orders a job decides on: at its stage, marked for a decision or due, oldest first. The
/// index `orders_stage_order` yields them in that order, so no sort runs: sorting would copy
/// every matching order with its payload.
const CANDIDATES: &str = concat!(
    "SELECT ",
    order_cols!(),
    " FROM orders WHERE stage = $1 AND (dirty = 1 OR next_attempt_at <= $2) \
     ORDER BY stage_entered_at, po LIMIT $3"
);

macro_rules! run_cols {
    () => {
        "id, job, trigger_kind, scheduled_for, started_at, ended_at, outcome, counts, error, holder, \
         lease_token, dry_run, only_po, config_version"
    };
}

macro_rules! event_cols {
    () => {
        "id, po, at, last_at, count, job, run_id, actor, from_stage, to_stage, outcome, reason_code, \
         reason_kind, detail"
    };
}

/// How many items one set-based statement carries at most.
const CHUNK: usize = 500;

/// A column of a JSON item list: its name (the items' field of the same name) and its
/// PostgreSQL type.
type JsonCol = (&'static str, &'static str);
const TEXT: &str = "text";
const INT: &str = "bigint";

/// The statements of the set-based batch writes and reads, built once per backend. Each takes
/// its items as one bound JSON text parameter (`$1`), unpacked into a row source `j` (SQLite's
/// `json_each`, PostgreSQL's `jsonb_to_recordset`), so a batch costs a fixed number of
/// statements per chunk instead of a few per item: with sqlx every statement is a hand-off to
/// the connection's worker, which costs more than most of these statements take to run.
struct BatchSql {
    cas_update: Arc<str>,
    events_insert: Arc<str>,
    last_events: Arc<str>,
    events_bump: Arc<str>,
    reasons_update: Arc<str>,
    views_compare: Arc<str>,
    views_update: Arc<str>,
    intents_update: Arc<str>,
    intents_insert: Arc<str>,
    intents_restart: Arc<str>,
    intents_read: Arc<str>,
    order_stages: Arc<str>,
    orders_insert: Arc<str>,
    payloads_read: Arc<str>,
    orders_refresh: Arc<str>,
    orders_read: Arc<str>,
    views_read: Arc<str>,
    dirty_mark: Arc<str>,
    remark: Arc<str>,
    intents_of_read: Arc<str>,
    tracking_read: Arc<str>,
    tracking_update: Arc<str>,
    invoice_update: Arc<str>,
}

impl BatchSql {
    fn new(backend: BackendKind) -> BatchSql {
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
                   marks = orders.marks + 1 \
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
            last_events: s(format!(
                concat!(
                    "SELECT ",
                    event_cols!(),
                    " FROM order_events WHERE id IN (SELECT MAX(id) FROM order_events WHERE po IN ({}) GROUP BY po)"
                ),
                list
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
            views_compare: s(format!(
                "{with}SELECT j.po, CAST(CASE WHEN orders.lx_snapshot = j.snap THEN 1 ELSE 0 END AS BIGINT) AS same \
                 FROM {} JOIN orders ON orders.po = j.po",
                rows(&[("po", TEXT), ("snap", TEXT)])
            )),
            views_update: s(format!(
                "{with}UPDATE orders SET lx_snapshot = j.snap, lx_checked_at = $2, lingxing_order_nos = j.order_nos, \
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
            // As `upsert_pulled_in!`: DSCO's fields merged, nothing a later stage wrote touched.
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
                    intent_cols!(),
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

/// Runs `$sql` (a [`BatchSql`] statement) with the JSON items `$items` as `$1` and then each of
/// the further arguments, and executes it.
macro_rules! batch_exec {
    ($tx:expr, $sql:expr, $items:expr $(, $arg:expr)*) => {{
        let items: Vec<Item> = $items;
        sqlx::query(AssertSqlSafe($sql.clone()))
            .bind(items_json(items))
            $(.bind($arg))*
            .execute(&mut *$tx)
            .await?
            .rows_affected()
    }};
}

/// One item of a batch statement's JSON list (an object), written straight to JSON text: no
/// `Value` tree is built for it.
struct Item(Vec<u8>);

/// `item!({"key": value, …})`: an [`Item`] with those fields, in that order.
macro_rules! item {
    ({ $($k:literal : $v:expr),* $(,)? }) => {{
        let mut b: Vec<u8> = Vec::with_capacity(192);
        b.push(b'{');
        $(
            if b.len() > 1 {
                b.push(b',');
            }
            b.extend_from_slice(concat!("\"", $k, "\":").as_bytes());
            // Strings, numbers, options of them: their serialization cannot fail.
            serde_json::to_writer(&mut b, &$v).expect("plain values serialize");
        )*
        b.push(b'}');
        Item(b)
    }};
}

/// The items as one JSON array (the `$1` of a batch statement).
fn items_json(items: Vec<Item>) -> String {
    let mut b = Vec::with_capacity(items.iter().map(|i| i.0.len() + 1).sum::<usize>() + 2);
    b.push(b'[');
    for (n, i) in items.into_iter().enumerate() {
        if n > 0 {
            b.push(b',');
        }
        b.extend_from_slice(&i.0);
    }
    b.push(b']');
    String::from_utf8(b).expect("JSON written from Rust strings is UTF-8")
}

/// Runs the batch read `$sql` (its `$1` a JSON list of POs, then the `$arg`s) over `$pos` a chunk
/// of [`CHUNK`] at a time, handing each row to `$each` as `$r`.
macro_rules! read_by_po {
    ($self:expr, $sql:expr, $pos:expr, $(&$arg:expr,)* |$r:ident| $each:expr) => {{
        for chunk in $pos.chunks(CHUNK) {
            let list = json_strings(chunk.iter().map(PoNumber::as_str));
            with_pool!($self, p => {
                let rows = sqlx::query(AssertSqlSafe($sql.clone()))
                    .bind(list)
                    $(.bind(&$arg))*
                    .fetch_all(p)
                    .await?;
                for $r in &rows {
                    $each;
                }
            });
        }
    }};
}

/// A row's `po`, which must be a PO number (else the table is corrupt).
fn po_in(r: &impl Cols, table: &'static str) -> Result<PoNumber> {
    PoNumber::parse(&r.s("po")?).map_err(|e| StoreError::Corrupt {
        table,
        detail: format!("po: {e}"),
    })
}

/// Consecutive ranges of at most [`CHUNK`] items in which no key repeats. Within such a range
/// the items touch distinct rows, so one set-based statement does what the items one by one
/// would; the ranges, applied in order, then do what the whole sequence would.
fn distinct_runs<'a, T>(items: &'a [T], key: impl Fn(&'a T) -> &'a str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        if i - start == CHUNK || seen.contains(k) {
            out.push(start..i);
            start = i;
            seen.clear();
        }
        seen.insert(k);
    }
    if start < items.len() {
        out.push(start..items.len());
    }
    out
}

/// Whether a new event `e` folds into `prev`, the order's latest event, instead of being
/// inserted: an identical repeated skip (see [`NewEvent`]).
fn folds_into(prev: &NewEvent, e: &NewEvent) -> bool {
    e.outcome == EventOutcome::Skipped
        && prev.outcome == e.outcome
        && prev.job == e.job
        && prev.reason_code == e.reason_code
        && prev.detail == e.detail
}

/// One row for `BatchSql::events_insert`.
fn event_item(idx: usize, e: &NewEvent, count: i64, last_at: i64, run_id: Option<&str>) -> Item {
    item!({
        "idx": idx,
        "po": e.po.as_str(),
        "at": ms(e.at),
        "last_at": last_at,
        "count": count,
        "job": e.job.map(|j| j.as_str()),
        "run_id": run_id,
        "actor": e.actor.as_deref(),
        "from_stage": e.from_stage.map(|s| s.number()),
        "to_stage": e.to_stage.map(|s| s.number()),
        "outcome": e.outcome.as_str(),
        "reason_code": e.reason_code.as_deref(),
        "reason_kind": e.reason_kind.map(|k| k.as_str()),
        "detail": e.detail,
    })
}

/// A JSON array of strings (for the `IN` lists of [`BatchSql`]).
/// An order's stored LingXing view (`Null` when none) and when it was read.
fn view_from(r: &impl Cols) -> Result<(Value, Option<DateTime<Utc>>)> {
    let text = r.s("lx_snapshot")?;
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::Null)
    };
    Ok((v, oat("orders", r.oi64("lx_checked_at")?)?))
}

fn json_strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<&str> = items.into_iter().collect();
    serde_json::to_string(&list).expect("strings serialize")
}

/// Starting a transaction that will write. SQLite's `BEGIN IMMEDIATE` takes the write lock up
/// front (waiting on the busy timeout) instead of failing later on a read-to-write upgrade.
trait WritePool {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// The release check of both pools: a connection goes back to the pool only outside any
/// transaction. When a statement fails with SQLITE_FULL (or IOERR, NOMEM) and no statement
/// journal covers it, SQLite rolls the whole transaction back by itself; the ROLLBACK sqlx then
/// sends on drop fails ("no transaction is active") and sqlx still counts the connection as
/// inside a transaction, so every later `BEGIN` on it failed with "attempted to call begin_with at
/// non-zero transaction depth" until restart. Such a connection is closed here (the pool opens a
/// fresh one); a connection whose rollback is merely still queued is waited for (one round trip
/// to its worker) and kept.
fn release_clean<C: sqlx::Connection>(
    conn: &mut C,
    _: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        conn.ping().await?;
        let clean = !conn.is_in_transaction();
        if !clean {
            tracing::warn!("closing a store connection left inside a failed transaction");
        }
        Ok(clean)
    })
}

/// A full disk or a read-only database behind a database error, in the database's words.
pub(crate) fn space_problem(e: &sqlx::Error) -> Option<StoreProblem> {
    let sqlx::Error::Database(d) = e else {
        return None;
    };
    let code = d.code();
    let code = code.as_deref().unwrap_or("");
    if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Extended result codes: the primary code is the low byte.
        let detail = format!("SQLite: {}", d.message());
        return match code.parse::<i32>().ok()? & 0xff {
            13 => Some(StoreProblem::DiskFull(detail)),
            8 => Some(StoreProblem::ReadOnly(detail)),
            _ => None,
        };
    }
    let detail = format!("PostgreSQL: {}", d.message());
    match code {
        // disk_full; read_only_sql_transaction.
        "53100" => Some(StoreProblem::DiskFull(detail)),
        "25006" => Some(StoreProblem::ReadOnly(detail)),
        _ => None,
    }
}

/// Typed column access that works on both backends' rows.
trait Cols {
    fn i64(&self, c: &str) -> Result<i64>;
    fn oi64(&self, c: &str) -> Result<Option<i64>>;
    fn s(&self, c: &str) -> Result<String>;
    fn os(&self, c: &str) -> Result<Option<String>>;
}

impl<R> Cols for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    i64: for<'q> Decode<'q, R::Database> + Type<R::Database>,
    String: for<'q> Decode<'q, R::Database> + Type<R::Database>,
{
    fn i64(&self, c: &str) -> Result<i64> {
        Ok(self.try_get::<i64, _>(c)?)
    }
    fn oi64(&self, c: &str) -> Result<Option<i64>> {
        Ok(self.try_get::<Option<i64>, _>(c)?)
    }
    fn s(&self, c: &str) -> Result<String> {
        Ok(self.try_get::<String, _>(c)?)
    }
    fn os(&self, c: &str) -> Result<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(c)?)
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at(table: &'static str, v: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| StoreError::Corrupt {
        table,
        detail: format!("time {v} out of range"),
    })
}

fn oat(table: &'static str, v: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    v.map(|v| at(table, v)).transpose()
}

fn parse<T: FromStr>(table: &'static str, v: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    v.parse::<T>().map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

fn stage_of(table: &'static str, n: i64) -> Result<Stage> {
    Stage::from_number(n).ok_or_else(|| StoreError::Corrupt {
        table,
        detail: format!("stage {n}"),
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn run_from(r: &impl Cols) -> Result<RunRecord> {
    const T: &str = "job_runs";
    let counts: RunCounts =
        serde_json::from_str(&r.s("counts")?).map_err(|e| StoreError::Corrupt {
            table: T,
            detail: e.to_string(),
        })?;
    Ok(RunRecord {
        id: r.s("id")?,
        job: parse(T, &r.s("job")?)?,
        trigger: parse(T, &r.s("trigger_kind")?)?,
        scheduled_for: oat(T, r.oi64("scheduled_for")?)?,
        started_at: at(T, r.i64("started_at")?)?,
        ended_at: oat(T, r.oi64("ended_at")?)?,
        outcome: parse(T, &r.s("outcome")?)?,
        counts,
        error: r.os("error")?,
        holder: r.s("holder")?,
        lease_token: r.i64("lease_token")?,
        dry_run: r.i64("dry_run")? != 0,
        only_po: r.os("only_po")?,
        config_version: r.oi64("config_version")?,
    })
}

fn order_from(r: &impl Cols) -> Result<OrderRecord> {
    const T: &str = "orders";
    let payload = RawJson::from_store(r.s("payload")?);
    let reason = reason_in(r)?;
    let next = r.i64("next_attempt_at")?;
    Ok(OrderRecord {
        pulled: PulledOrder {
            po: po_in(r, T)?,
            dsco_order_id: r.os("dsco_order_id")?,
            retailer_id: r.os("retailer_id")?,
            dsco_status: r.os("dsco_status")?,
            dsco_lifecycle: r.os("dsco_lifecycle")?,
            dsco_created_at: oat(T, r.oi64("dsco_created_at")?)?,
            dsco_updated_at: oat(T, r.oi64("dsco_updated_at")?)?,
            warehouse_code: r.os("warehouse_code")?,
            service_level: r.os("service_level")?,
            skus: r.s("skus")?,
            payload,
        },
        stage: stage_of(T, r.i64("stage")?)?,
        store_id: r.os("store_id")?,
        lingxing_order_nos: split_list(&r.s("lingxing_order_nos")?),
        tracking: split_list(&r.s("tracking")?),
        invoice_id: r.os("invoice_id")?,
        flags: split_list(&r.s("flags")?),
        reason,
        attempts: r.i64("attempts")?,
        next_attempt_at: if next > 0 { Some(at(T, next)?) } else { None },
        stage_entered_at: at(T, r.i64("stage_entered_at")?)?,
        created_at: at(T, r.i64("created_at")?)?,
        updated_at: at(T, r.i64("updated_at")?)?,
        marks: r.i64("marks")?,
    })
}

/// An order row's current reason (`reason_code`, `reason_kind`, `reason_detail`).
fn reason_in(r: &impl Cols) -> Result<Option<OrderReason>> {
    Ok(match (r.os("reason_code")?, r.os("reason_kind")?) {
        (Some(code), Some(kind)) => Some(OrderReason {
            code,
            kind: parse("orders", &kind)?,
            detail: r.os("reason_detail")?.unwrap_or_default(),
        }),
        _ => None,
    })
}

fn intent_from(r: &impl Cols) -> Result<Intent> {
    const T: &str = "intents";
    let corrupt = |d: String| StoreError::Corrupt {
        table: T,
        detail: d,
    };
    let payload = r.s("payload")?;
    Ok(Intent {
        kind: IntentKind::parse(&r.s("kind")?).ok_or_else(|| corrupt("kind".into()))?,
        key: r.s("key")?,
        po: PoNumber::parse(r.s("po")?).map_err(|e| corrupt(e.to_string()))?,
        state: IntentState::parse(&r.s("state")?).ok_or_else(|| corrupt("state".into()))?,
        payload: if payload.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?
        },
        outcome: r.s("outcome")?,
        attempts: r.i64("attempts")?,
        run_id: r.os("run_id")?,
        created_at: at(T, r.i64("created_at")?)?,
        updated_at: at(T, r.i64("updated_at")?)?,
    })
}

fn event_from(r: &impl Cols) -> Result<OrderEvent> {
    const T: &str = "order_events";
    let kind = r.os("reason_kind")?;
    Ok(OrderEvent {
        id: r.i64("id")?,
        event: NewEvent {
            po: po_in(r, T)?,
            at: at(T, r.i64("at")?)?,
            job: r.os("job")?.map(|j| parse(T, &j)).transpose()?,
            run_id: r.os("run_id")?,
            actor: r.os("actor")?,
            from_stage: r.oi64("from_stage")?.map(|n| stage_of(T, n)).transpose()?,
            to_stage: r.oi64("to_stage")?.map(|n| stage_of(T, n)).transpose()?,
            outcome: EventOutcome::parse(&r.s("outcome")?).ok_or_else(|| StoreError::Corrupt {
                table: T,
                detail: "outcome".into(),
            })?,
            reason_code: r.os("reason_code")?,
            reason_kind: kind.map(|k| parse::<ReasonKind>(T, &k)).transpose()?,
            detail: r.s("detail")?,
        },
        last_at: at(T, r.i64("last_at")?)?,
        count: r.i64("count")?,
    })
}

async fn set_page_limit(conn: &mut sqlx::SqliteConnection, pages: u64) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
        .execute(conn)
        .await?;
    Ok(())
}

/// The SQLite pool's size.
const SQLITE_CONNECTIONS: u32 = 8;

/// Opens a SQLite file and runs its migrations, tolerating another process doing the same at once.
///
/// sqlx takes an advisory lock for PostgreSQL migrations but none for SQLite: two processes
/// started together (`run` and `config import`, say) can both read "migration 1 not applied" and
/// the slower one then fails on `CREATE TABLE`; the first switch of a new file to WAL can also
/// meet a locked database. Each migration commits together with its bookkeeping row, so opening
/// again sees the other process's work and applies only what is still missing.
async fn open_sqlite(opts: SqliteConnectOptions, page_limit: Arc<AtomicU64>) -> Result<SqlitePool> {
    let mut attempt = 0;
    loop {
        let opened = async {
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_CONNECTIONS)
                .after_release(release_clean)
                .after_connect({
                    let page_limit = page_limit.clone();
                    move |conn, _| {
                        let limit = page_limit.load(Ordering::Relaxed);
                        Box::pin(async move {
                            if limit > 0 {
                                set_page_limit(conn, limit).await?;
                            }
                            Ok(())
                        })
                    }
                })
                .connect_with(opts.clone())
                .await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            Ok::<_, StoreError>(pool)
        }
        .await;
        match opened {
            Ok(pool) => return Ok(pool),
            Err(e) if attempt < 8 && is_open_race(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether an error opening SQLite is the transient kind a concurrent first open causes.
fn is_open_race(e: &StoreError) -> bool {
    use sqlx::migrate::MigrateError as M;
    let db = match e {
        StoreError::Migrate(M::Execute(e) | M::ExecuteMigration(e, _)) => e,
        StoreError::Migrate(_) => return false,
        StoreError::Db(e) => e,
        _ => return false,
    };
    match db {
        sqlx::Error::Database(d) => {
            // Any failure inside a migration script is a race here: the scripts are fixed and
            // tested, so the only way one fails on a file being created is another process.
            matches!(e, StoreError::Migrate(_))
                || d.message().contains("locked")
                || d.message().contains("busy")
        }
        _ => false,
    }
}

impl SqlStore {
    pub async fn connect(url: &str) -> Result<SqlStore> {
        let store = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                // 64 MiB of page cache per connection (SQLite's default is 2 MiB): a batch of
                // 500 orders with their payloads no longer spills pages to the WAL mid-transaction
                // or reads them back from the OS.
                .pragma("cache_size", "-65536")
                .pragma("temp_store", "memory")
                .pragma("wal_autocheckpoint", "10000");
            if let Some(dir) = opts.get_filename().parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?;
            }
            let page_limit = Arc::new(AtomicU64::new(0));
            let pool = open_sqlite(opts, page_limit.clone()).await?;
            SqlStore {
                pool: Pool::Sqlite(pool),
                batch: BatchSql::new(BackendKind::Sqlite),
                page_limit,
            }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .after_release(release_clean)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            PG_MIGRATIONS.run(&pool).await?;
            SqlStore {
                pool: Pool::Postgres(pool),
                batch: BatchSql::new(BackendKind::Postgres),
                page_limit: Arc::default(),
            }
        } else {
            return Err(StoreError::BadUrl(redact_url(url)));
        };
        Ok(store)
    }

    /// Test support: limits every connection of a SQLite pool, and those it opens later, to
    /// `pages` database pages (`None` lifts the limit; a limit under the current size means the
    /// current size), so that the next write that grows the file fails with SQLITE_FULL as on a
    /// full disk. Takes every connection of the pool at once to reach them all. No effect on
    /// PostgreSQL.
    #[doc(hidden)]
    pub async fn limit_sqlite_pages(&self, pages: Option<u32>) -> Result<()> {
        let Pool::Sqlite(p) = &self.pool else {
            return Ok(());
        };
        // SQLite's default maximum.
        // (0 would only ask SQLite for the limit.)
        let pages = pages.map_or(4_294_967_294, |n| u64::from(n.max(1)));
        self.page_limit.store(pages, Ordering::Relaxed);
        let mut held = Vec::new();
        for _ in 0..SQLITE_CONNECTIONS {
            held.push(p.acquire().await?);
        }
        for c in &mut held {
            set_page_limit(c, pages).await?;
        }
        Ok(())
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        with_pool!(self, p => p.close().await)
    }
}

/// A URL with its password replaced by `<redacted>` (`postgres://app:pw@db/x` →
/// `postgres://app:<redacted>@db/x`), for messages and exports. Only the authority is looked at,
/// so an `@` in the path or query is left alone. The one URL redactor of the workspace.
pub fn redact_url(url: &str) -> String {
    let Some(i) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[i + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority[..at].find(':')
    {
        return format!(
            "{}{}:<redacted>{}",
            &url[..i + 3],
            &authority[..colon],
            &rest[at..]
        );
    }
    url.to_owned()
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn only_the_password_of_the_authority_is_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db:5432/x?sslmode=require"),
            "postgres://app:<redacted>@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact_url("http://u:p@ss@host/api"),
            "http://u:<redacted>@host/api"
        );
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite://data/a.db"), "sqlite://data/a.db");
        // An `@` past the authority is not a password's end.
        assert_eq!(
            redact_url("https://host/a:b@c?mail=x:y@z"),
            "https://host/a:b@c?mail=x:y@z"
        );
    }
}

/// A `runtime_config` row (version, config, actor, reason, created_at), its config validated.
fn stored_config(r: &impl Cols) -> Result<StoredConfig> {
    const T: &str = "runtime_config";
    let v: Value = serde_json::from_str(&r.s("config")?).map_err(|e| StoreError::Corrupt {
        table: T,
        detail: e.to_string(),
    })?;
    let imported =
        RuntimeConfig::from_value(&v, "runtime_config").map_err(|e| StoreError::Corrupt {
            table: T,
            detail: e.to_string(),
        })?;
    Ok(StoredConfig {
        version: r.i64("version")?,
        config: imported.config,
        actor: r.s("actor")?,
        reason: r.s("reason")?,
        created_at: at(T, r.i64("created_at")?)?,
    })
}

#[allow(clippy::too_many_arguments)]
#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> BackendKind {
        match self.pool {
            Pool::Sqlite(_) => BackendKind::Sqlite,
            Pool::Postgres(_) => BackendKind::Postgres,
        }
    }

    async fn try_acquire_lease(
        &self,
        job: JobName,
        holder: &str,
        run_id: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let expires = now + clock::to_delta(ttl);
        let row = with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO job_leases (job, holder, run_id, token, acquired_at, heartbeat_at, expires_at) \
                 VALUES ($1, $2, $3, 1, $4, $4, $5) \
                 ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, run_id = excluded.run_id, \
                   token = job_leases.token + 1, acquired_at = excluded.acquired_at, \
                   heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at \
                 WHERE job_leases.holder IS NULL OR job_leases.expires_at <= excluded.acquired_at \
                 RETURNING token",
            )
            .bind(job.as_str())
            .bind(holder)
            .bind(run_id)
            .bind(ms(now))
            .bind(ms(expires))
            .fetch_optional(p)
            .await?
            .map(|r| r.i64("token"))
            .transpose()?
        });
        Ok(row.map(|token| Lease {
            job,
            token,
            holder: holder.to_owned(),
            run_id: run_id.to_owned(),
            expires_at: expires,
        }))
    }

    async fn renew_lease(&self, lease: &Lease, now: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        let expires = now + clock::to_delta(ttl);
        let n = with_pool!(self, p => sqlx::query(
            "UPDATE job_leases SET heartbeat_at = $1, expires_at = $2 WHERE job = $3 AND token = $4 AND holder IS NOT NULL",
        )
        .bind(ms(now))
        .bind(ms(expires))
        .bind(lease.job.as_str())
        .bind(lease.token)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "UPDATE job_leases SET holder = NULL, run_id = NULL, expires_at = 0 WHERE job = $1 AND token = $2",
        )
        .bind(lease.job.as_str())
        .bind(lease.token)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn lease_info(&self, job: JobName) -> Result<Option<LeaseInfo>> {
        const T: &str = "job_leases";
        with_pool!(self, p => {
            let row = sqlx::query("SELECT holder, run_id, token, expires_at FROM job_leases WHERE job = $1")
                .bind(job.as_str())
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(LeaseInfo {
                    job,
                    holder: r.os("holder")?,
                    run_id: r.os("run_id")?,
                    token: r.i64("token")?,
                    expires_at: at(T, r.i64("expires_at")?)?,
                })),
            }
        })
    }

    async fn insert_run(&self, run: &NewRun, fence: &Fence) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(concat!(
                "INSERT INTO job_runs (", run_cols!(), ") VALUES ($1, $2, $3, $4, $5, NULL, $6, '{}', NULL, $7, $8, $9, $10, $11)"
            ))
            .bind(&run.id)
            .bind(run.job.as_str())
            .bind(run.trigger.as_str())
            .bind(run.scheduled_for.map(ms))
            .bind(ms(run.started_at))
            .bind(RunOutcome::Running.as_str())
            .bind(&run.holder)
            .bind(fence.token)
            .bind(run.dry_run as i64)
            .bind(run.only_po.as_deref())
            .bind(run.config_version)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn finish_run(
        &self,
        run_id: &str,
        outcome: RunOutcome,
        counts: &RunCounts,
        error: Option<&str>,
        ended_at: DateTime<Utc>,
    ) -> Result<()> {
        let counts = serde_json::to_string(counts).expect("counts serialize");
        with_pool!(self, p => sqlx::query(
            "UPDATE job_runs SET outcome = $1, counts = $2, error = $3, ended_at = $4 WHERE id = $5",
        )
        .bind(outcome.as_str())
        .bind(counts)
        .bind(error)
        .bind(ms(ended_at))
        .bind(run_id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn record_rejected_fire(
        &self,
        job: JobName,
        blocking_run_id: &str,
        trigger: Trigger,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let count = with_pool!(self, p => sqlx::query(
            "INSERT INTO rejected_fires (job, blocking_run_id, trigger_kind, first_at, last_at, count) \
             VALUES ($1, $2, $3, $4, $4, 1) \
             ON CONFLICT (job, blocking_run_id) DO UPDATE SET last_at = excluded.last_at, count = rejected_fires.count + 1 \
             RETURNING count",
        )
        .bind(job.as_str())
        .bind(blocking_run_id)
        .bind(trigger.as_str())
        .bind(ms(now))
        .fetch_one(p)
        .await?
        .i64("count")?);
        Ok(count == 1)
    }

    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        with_pool!(self, p => {
            let row = sqlx::query(concat!("SELECT ", run_cols!(), " FROM job_runs WHERE id = $1"))
                .bind(run_id)
                .fetch_optional(p)
                .await?;
            row.map(|r| run_from(&r)).transpose()
        })
    }

    async fn list_runs(&self, job: Option<JobName>, limit: u32) -> Result<Vec<RunRecord>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", run_cols!(), " FROM job_runs WHERE ($1 IS NULL OR job = $1) ORDER BY started_at DESC, id DESC LIMIT $2"
            ))
            .bind(job.map(|j| j.as_str()))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(run_from).collect()
        })
    }

    async fn rejected_fires(&self, job: Option<JobName>) -> Result<Vec<RejectedFire>> {
        const T: &str = "rejected_fires";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT job, blocking_run_id, trigger_kind, first_at, last_at, count FROM rejected_fires \
                 WHERE ($1 IS NULL OR job = $1) ORDER BY first_at",
            )
            .bind(job.map(|j| j.as_str()))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(RejectedFire {
                        job: parse(T, &r.s("job")?)?,
                        blocking_run_id: r.s("blocking_run_id")?,
                        trigger: parse(T, &r.s("trigger_kind")?)?,
                        first_at: at(T, r.i64("first_at")?)?,
                        last_at: at(T, r.i64("last_at")?)?,
                        count: r.i64("count")?,
                    })
                })
                .collect()
        })
    }

    async fn last_scheduled_fire(&self, job: JobName) -> Result<Option<DateTime<Utc>>> {
        with_pool!(self, p => {
            let v = sqlx::query("SELECT MAX(scheduled_for) AS m FROM job_runs WHERE job = $1")
                .bind(job.as_str())
                .fetch_one(p)
                .await?
                .oi64("m")?;
            oat("job_runs", v)
        })
    }

    async fn close_orphan_runs(&self, now: DateTime<Utc>) -> Result<u64> {
        const T: &str = "job_runs";
        // A run is an orphan when it is still "running" but no live lease carries its id. The
        // literal 'running' lets both databases use the partial index `job_runs_open`.
        let orphans = with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT r.id, r.holder, r.started_at, \
                   (SELECT l.heartbeat_at FROM job_leases l WHERE l.run_id = r.id) AS beat \
                 FROM job_runs r WHERE r.outcome = 'running' AND NOT EXISTS ( \
                   SELECT 1 FROM job_leases l WHERE l.run_id = r.id AND l.holder IS NOT NULL AND l.expires_at > $1)",
            )
            .bind(ms(now))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let since = r.oi64("beat")?.unwrap_or(r.i64("started_at")?);
                    Ok((r.s("id")?, r.s("holder")?, at(T, since)?))
                })
                .collect::<Result<Vec<_>>>()?
        });
        let mut closed = 0;
        for (id, holder, since) in orphans {
            let error = format!(
                "the runner {holder} died (no heartbeat since {}): the process stopped mid-run \
                 (crash or kill) or could not record the end; closed once its lease expired",
                since.format("%Y-%m-%d %H:%M:%S UTC")
            );
            closed += with_pool!(self, p => sqlx::query(
                "UPDATE job_runs SET outcome = $1, ended_at = $2, error = $3 WHERE id = $4 AND outcome = 'running'",
            )
            .bind(RunOutcome::Failed.as_str())
            .bind(ms(now))
            .bind(&error)
            .bind(&id)
            .execute(p)
            .await?
            .rows_affected());
        }
        Ok(closed)
    }

    async fn set_run_failure(&self, run_id: &str, failure: &str) -> Result<()> {
        with_pool!(self, p => sqlx::query("UPDATE job_runs SET failure = $1 WHERE id = $2")
            .bind(failure)
            .bind(run_id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn run_failures(&self, job: JobName, limit: u32) -> Result<BTreeMap<String, String>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT id, failure FROM job_runs WHERE failure IS NOT NULL AND id IN ( \
                   SELECT id FROM job_runs WHERE job = $1 ORDER BY started_at DESC, id DESC LIMIT $2)",
            )
            .bind(job.as_str())
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| Ok((r.s("id")?, r.s("failure")?)))
                .collect()
        })
    }

    async fn check_writable(&self) -> Result<()> {
        // A write that changes nothing, in a transaction rolled back: a read-only database
        // refuses it all the same (SQLite's BEGIN IMMEDIATE alone does not tell).
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            sqlx::query("UPDATE job_leases SET writes = writes WHERE 1 = 0")
                .execute(&mut *tx)
                .await?;
            tx.rollback().await?;
        });
        Ok(())
    }

    async fn runtime_config(&self) -> Result<Option<StoredConfig>> {
        with_pool!(self, p => {
            let row = sqlx::query(
                "SELECT version, config, actor, reason, created_at FROM runtime_config ORDER BY version DESC LIMIT 1",
            )
            .fetch_optional(p)
            .await?;
            row.as_ref().map(stored_config).transpose()
        })
    }

    async fn runtime_config_history(&self, limit: u32) -> Result<Vec<StoredConfig>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT version, config, actor, reason, created_at FROM runtime_config ORDER BY version DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter().map(stored_config).collect()
        })
    }

    async fn runtime_config_at(&self, version: i64) -> Result<Option<StoredConfig>> {
        with_pool!(self, p => {
            let row = sqlx::query(
                "SELECT version, config, actor, reason, created_at FROM runtime_config WHERE version = $1",
            )
            .bind(version)
            .fetch_optional(p)
            .await?;
            row.as_ref().map(stored_config).transpose()
        })
    }

    async fn runtime_config_version(&self) -> Result<Option<i64>> {
        with_pool!(self, p => Ok(sqlx::query("SELECT MAX(version) AS v FROM runtime_config")
            .fetch_one(p)
            .await?
            .oi64("v")?))
    }

    async fn save_runtime_config(
        &self,
        expected: Option<i64>,
        config: &RuntimeConfig,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let mut v = config.to_value(&BTreeMap::new());
        if let Some(m) = v.get_mut("mapping").and_then(Value::as_object_mut) {
            m.remove("sku");
        }
        let text = v.to_string();
        let next = expected.unwrap_or(0) + 1;
        let res: Result<()> = with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let current = sqlx::query("SELECT MAX(version) AS v FROM runtime_config")
                .fetch_one(&mut *tx)
                .await?
                .oi64("v")?;
            if current != expected {
                return Err(StoreError::VersionConflict {
                    what: "runtime config",
                    expected: expected.unwrap_or(0),
                    actual: current.unwrap_or(0),
                });
            }
            sqlx::query("INSERT INTO runtime_config (version, config, actor, reason, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(next)
                .bind(&text)
                .bind(actor)
                .bind(reason)
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, 'config.save', $3, $4, $5)")
                .bind(ms(now))
                .bind(actor)
                .bind(format!("runtime_config v{next}"))
                .bind(reason)
                .bind(&text)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        });
        match res {
            Ok(()) => Ok(next),
            // Two savers raced past the version check: the second insert hits the key.
            Err(StoreError::Db(e)) if is_unique_violation(&e) => Err(StoreError::VersionConflict {
                what: "runtime config",
                expected: expected.unwrap_or(0),
                actual: next,
            }),
            Err(e) => Err(e),
        }
    }

    async fn sku_map(&self) -> Result<SkuMap> {
        with_pool!(self, p => {
            let version = sqlx::query("SELECT version FROM sku_map_version WHERE id = 1")
                .fetch_one(p)
                .await?
                .i64("version")?;
            let rows = sqlx::query("SELECT dsco_sku, source, lingxing_sku FROM sku_map ORDER BY dsco_sku, source")
                .fetch_all(p)
                .await?;
            let mut entries = Vec::with_capacity(rows.len());
            for r in &rows {
                let source = match r.s("source")?.as_str() {
                    "manual" => SkuSource::Manual,
                    "pair" => SkuSource::Pair,
                    other => {
                        return Err(StoreError::Corrupt {
                            table: "sku_map",
                            detail: format!("source {other}"),
                        });
                    }
                };
                entries.push(SkuEntry {
                    dsco_sku: r.s("dsco_sku")?,
                    lingxing_sku: r.s("lingxing_sku")?,
                    source,
                });
            }
            Ok(SkuMap { version, entries })
        })
    }

    async fn replace_sku_entries(
        &self,
        expected_version: i64,
        source: SkuSource,
        entries: &BTreeMap<String, String>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
        fence: Option<&Fence>,
    ) -> Result<i64> {
        let detail =
            serde_json::json!({ "source": source.as_str(), "entries": entries.len() }).to_string();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(f) = fence {
                check_fence!(tx, f);
            }
            bump_sku_version!(tx, expected_version, now);
            sqlx::query("DELETE FROM sku_map WHERE source = $1")
                .bind(source.as_str())
                .execute(&mut *tx)
                .await?;
            for (d, l) in entries {
                sqlx::query("INSERT INTO sku_map (dsco_sku, source, lingxing_sku, updated_at) VALUES ($1, $2, $3, $4)")
                    .bind(d)
                    .bind(source.as_str())
                    .bind(l)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, 'sku.replace', $3, $4, $5)")
                .bind(ms(now))
                .bind(actor)
                .bind(format!("mapping.sku v{}", expected_version + 1))
                .bind(reason)
                .bind(&detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(expected_version + 1)
    }

    async fn set_manual_sku(
        &self,
        expected_version: i64,
        dsco_sku: &str,
        lingxing_sku: Option<&str>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let detail =
            serde_json::json!({ "dsco_sku": dsco_sku, "lingxing_sku": lingxing_sku }).to_string();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            bump_sku_version!(tx, expected_version, now);
            sqlx::query("DELETE FROM sku_map WHERE dsco_sku = $1 AND source = 'manual'")
                .bind(dsco_sku)
                .execute(&mut *tx)
                .await?;
            if let Some(l) = lingxing_sku {
                sqlx::query("INSERT INTO sku_map (dsco_sku, source, lingxing_sku, updated_at) VALUES ($1, 'manual', $2, $3)")
                    .bind(dsco_sku)
                    .bind(l)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, 'sku.set_manual', $3, $4, $5)")
                .bind(ms(now))
                .bind(actor)
                .bind(dsco_sku)
                .bind(reason)
                .bind(&detail)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(expected_version + 1)
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ms(e.at))
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target)
        .bind(&e.reason)
        .bind(e.detail.to_string())
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRecord>> {
        const T: &str = "audit_log";
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT id, at, actor, action, target, reason, detail FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(limit as i64)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    let detail = r.s("detail")?;
                    Ok(AuditRecord {
                        id: r.i64("id")?,
                        entry: AuditEntry {
                            at: at(T, r.i64("at")?)?,
                            actor: r.s("actor")?,
                            action: r.s("action")?,
                            target: r.s("target")?,
                            reason: r.s("reason")?,
                            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
                        },
                    })
                })
                .collect()
        })
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT value FROM cursors WHERE name = $1").bind(name).fetch_optional(p).await?;
            row.map(|r| r.s("value")).transpose()
        })
    }

    async fn set_cursor(
        &self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(name)
            .bind(value)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn cache_get(&self, key: &str) -> Result<Option<String>> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT value FROM token_cache WHERE key = $1").bind(key).fetch_optional(p).await?;
            row.map(|r| r.s("value")).transpose()
        })
    }

    async fn cache_put(&self, key: &str, value: &str, now: DateTime<Utc>) -> Result<()> {
        with_pool!(self, p => sqlx::query(
            "INSERT INTO token_cache (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(ms(now))
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    async fn upsert_pulled(
        &self,
        o: &PulledOrder,
        initial_stage: Stage,
        run_id: Option<&str>,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Upserted> {
        fenced!(self, fence, tx => {
            let out = upsert_pulled_in!(tx, o, initial_stage, run_id, now, fence);
            Ok(out)
        })
    }

    async fn upsert_pulled_many(
        &self,
        orders: &[(PulledOrder, Stage)],
        run_id: Option<&str>,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Vec<Upserted>> {
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        /// What the items of one PO in a chunk amount to: the merge of `upsert_pulled_in!`
        /// applied in sequence (a field takes the last value that is not `None`; skus and
        /// payload the last), and whether a payload changed between two of them.
        /// Borrowed from the input until a second item of the PO has to be merged in.
        struct Merged<'a> {
            first: usize,
            stage: Stage,
            o: Cow<'a, PulledOrder>,
            payload: &'a str,
            changed: bool,
            status_at_insert: Option<&'a str>,
        }
        fn merge<'a>(into: &mut Merged<'a>, o: &'a PulledOrder) {
            fn keep<T: Clone>(old: &mut Option<T>, new: &Option<T>) {
                if new.is_some() {
                    old.clone_from(new);
                }
            }
            let m = into.o.to_mut();
            keep(&mut m.dsco_order_id, &o.dsco_order_id);
            keep(&mut m.retailer_id, &o.retailer_id);
            keep(&mut m.dsco_status, &o.dsco_status);
            keep(&mut m.dsco_lifecycle, &o.dsco_lifecycle);
            keep(&mut m.dsco_created_at, &o.dsco_created_at);
            keep(&mut m.dsco_updated_at, &o.dsco_updated_at);
            keep(&mut m.warehouse_code, &o.warehouse_code);
            keep(&mut m.service_level, &o.service_level);
            m.skus.clone_from(&o.skus);
            let payload = o.payload.get();
            into.changed |= payload != into.payload;
            into.payload = payload;
        }
        fn order_item(idx: usize, m: &Merged<'_>) -> Item {
            let o = &m.o;
            item!({
                "idx": idx,
                "po": o.po.as_str(),
                "dsco_order_id": o.dsco_order_id,
                "retailer_id": o.retailer_id,
                "stage": m.stage.number(),
                "dsco_status": o.dsco_status,
                "dsco_lifecycle": o.dsco_lifecycle,
                "dsco_created_at": o.dsco_created_at.map(ms),
                "dsco_updated_at": o.dsco_updated_at.map(ms),
                "warehouse_code": o.warehouse_code,
                "service_level": o.service_level,
                "skus": o.skus,
                "changed": i64::from(m.changed),
            })
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = Vec::with_capacity(orders.len());
            for (c, chunk) in orders.chunks(CHUNK).enumerate() {
                let base = c * CHUNK;
                let list = json_strings(chunk.iter().map(|(o, _)| o.po.as_str()));
                let rows = sqlx::query(AssertSqlSafe(sql.order_stages.clone()))
                    .bind(list)
                    .fetch_all(&mut *tx)
                    .await?;
                let mut stored: HashMap<String, Stage> = HashMap::with_capacity(rows.len());
                for r in &rows {
                    stored.insert(r.s("po")?, stage_of("orders", r.i64("stage")?)?);
                }
                // Per PO: new (inserted by its first item) or known (refreshed by every item).
                let mut inserted: Vec<Merged> = Vec::new();
                let mut refreshed: Vec<Merged> = Vec::new();
                let mut slot: HashMap<&str, (bool, usize)> = HashMap::new();
                for (i, (o, initial)) in chunk.iter().enumerate() {
                    let po = o.po.as_str();
                    match slot.get(po).copied() {
                        Some((true, k)) => {
                            merge(&mut inserted[k], o);
                            out.push(Upserted::Refreshed(inserted[k].stage));
                        }
                        Some((false, k)) => {
                            merge(&mut refreshed[k], o);
                            out.push(Upserted::Refreshed(refreshed[k].stage));
                        }
                        None => match stored.get(po) {
                            Some(&stage) => {
                                // `changed` starts false: the stored payload is compared in SQL.
                                let m = Merged {
                                    first: base + i,
                                    stage,
                                    o: Cow::Borrowed(o),
                                    payload: o.payload.get(),
                                    changed: false,
                                    status_at_insert: None,
                                };
                                slot.insert(po, (false, refreshed.len()));
                                refreshed.push(m);
                                out.push(Upserted::Refreshed(stage));
                            }
                            None => {
                                let m = Merged {
                                    first: base + i,
                                    stage: *initial,
                                    o: Cow::Borrowed(o),
                                    payload: o.payload.get(),
                                    changed: false,
                                    status_at_insert: o.dsco_status.as_deref(),
                                };
                                slot.insert(po, (true, inserted.len()));
                                inserted.push(m);
                                out.push(Upserted::Inserted(*initial));
                            }
                        },
                    }
                }
                // The payloads first: the refreshed orders whose payload changed are marked dirty.
                // They are bound as parameters, not carried in a JSON list: a payload is
                // kilobytes of JSON, which would be escaped into the list and parsed out again.
                let mut rows: Vec<&Merged> = inserted.iter().chain(refreshed.iter()).collect();
                rows.sort_by_key(|m| m.first);
                let mut written: HashSet<String> = HashSet::new();
                if !rows.is_empty() {
                    let mut q = sqlx::query(AssertSqlSafe(payloads_upsert(rows.len())));
                    for m in &rows {
                        q = q.bind(m.o.po.as_str()).bind(m.payload);
                    }
                    for r in q.fetch_all(&mut *tx).await? {
                        written.insert(r.s("po")?);
                    }
                }
                for m in &mut refreshed {
                    m.changed |= written.contains(m.o.po.as_str());
                }
                // A payload that did not change leaves the order as it was (its DSCO fields are
                // read from the payload).
                refreshed.retain(|m| m.changed);
                if !inserted.is_empty() {
                    batch_exec!(tx, sql.orders_insert, inserted.iter().map(|m| order_item(m.first, m)).collect(), ms(now));
                    let events = inserted
                        .iter()
                        .map(|m| {
                            let e = NewEvent {
                                po: m.o.po.clone(),
                                at: now,
                                job: Some(fence.job),
                                run_id: run_id.map(str::to_owned),
                                actor: None,
                                from_stage: None,
                                to_stage: Some(m.stage),
                                outcome: EventOutcome::Pulled,
                                reason_code: None,
                                reason_kind: None,
                                detail: format!("DSCO status {}", m.status_at_insert.unwrap_or("unknown")),
                            };
                            event_item(m.first, &e, 1, ms(now), run_id)
                        })
                        .collect();
                    batch_exec!(tx, sql.events_insert, events);
                }
                if !refreshed.is_empty() {
                    batch_exec!(tx, sql.orders_refresh, refreshed.iter().map(|m| order_item(m.first, m)).collect(), ms(now));
                }
            }
            Ok(out)
        })
    }

    async fn get_order(&self, po: &PoNumber) -> Result<Option<OrderRecord>> {
        with_pool!(self, p => {
            let row = sqlx::query(concat!("SELECT ", order_cols!(), " FROM orders WHERE po = $1"))
                .bind(po.as_str())
                .fetch_optional(p)
                .await?;
            row.map(|r| order_from(&r)).transpose()
        })
    }

    async fn cas_stage(&self, e: &NewEvent, fence: &Fence) -> Result<bool> {
        let moved = self.cas_stages(std::slice::from_ref(e), fence).await?;
        Ok(moved.first().copied().unwrap_or(false))
    }

    async fn cas_stages(&self, events: &[NewEvent], fence: &Fence) -> Result<Vec<bool>> {
        for e in events {
            let (Some(from), Some(to)) = (e.from_stage, e.to_stage) else {
                return Err(StoreError::NotAllowed(
                    "a stage change needs from and to".into(),
                ));
            };
            if !from.can_advance_to(to) {
                return Err(StoreError::NotAllowed(format!(
                    "{from} → {to} is not a forward move; only an operator may do that"
                )));
            }
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = vec![false; events.len()];
            // A PO moved twice in one call (2→3, then 3→4) needs the first move applied before
            // the second compares: such items land in successive runs.
            for run in distinct_runs(events, |e| e.po.as_str()) {
                let items = &events[run.clone()];
                let moves: Vec<Item> = items
                    .iter()
                    .map(|e| {
                        item!({
                            "po": e.po.as_str(),
                            "at": ms(e.at),
                            "from_stage": e.from_stage.map(|s| s.number()),
                            "to_stage": e.to_stage.map(|s| s.number()),
                        })
                    })
                    .collect();
                let rows = sqlx::query(AssertSqlSafe(sql.cas_update.clone()))
                    .bind(items_json(moves))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut moved = HashSet::with_capacity(rows.len());
                for r in &rows {
                    moved.insert(r.s("po")?);
                }
                let mut inserts = Vec::with_capacity(moved.len());
                for (i, e) in items.iter().enumerate() {
                    if moved.contains(e.po.as_str()) {
                        out[run.start + i] = true;
                        inserts.push(event_item(i, e, 1, ms(e.at), e.run_id.as_deref()));
                    }
                }
                if !inserts.is_empty() {
                    batch_exec!(tx, sql.events_insert, inserts);
                }
            }
            Ok(out)
        })
    }

    async fn force_stage(
        &self,
        po: &PoNumber,
        to: Stage,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Stage> {
        if reason.trim().is_empty() {
            return Err(StoreError::NotAllowed(
                "an operator action needs a reason".into(),
            ));
        }
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let from = sqlx::query("SELECT stage FROM orders WHERE po = $1")
                .bind(po.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.i64("stage"))
                .transpose()?
                .ok_or_else(|| StoreError::NotAllowed(format!("no order {po}")))?;
            let from = stage_of("orders", from)?;
            sqlx::query(
                "UPDATE orders SET stage = $1, stage_entered_at = $2, updated_at = $2, reason_code = NULL, \
                   reason_kind = NULL, reason_detail = NULL, attempts = 0, next_attempt_at = 0 WHERE po = $3",
            )
            .bind(to.number())
            .bind(ms(now))
            .bind(po.as_str())
            .execute(&mut *tx)
            .await?;
            let e = NewEvent {
                po: po.clone(),
                at: now,
                job: None,
                run_id: None,
                actor: Some(actor.to_owned()),
                from_stage: Some(from),
                to_stage: Some(to),
                outcome: EventOutcome::Operator,
                reason_code: None,
                reason_kind: None,
                detail: format!("stage forced by {actor}: {reason}"),
            };
            insert_event!(tx, &e);
            sqlx::query("INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, 'order.force_stage', $3, $4, $5)")
                .bind(ms(now))
                .bind(actor)
                .bind(po.as_str())
                .bind(reason)
                .bind(serde_json::json!({ "from": from.number(), "to": to.number() }).to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(from)
        })
    }

    async fn record_event(
        &self,
        e: &NewEvent,
        next_attempt_at: Option<DateTime<Utc>>,
        fence: Option<&Fence>,
    ) -> Result<()> {
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(f) = fence {
                check_fence!(tx, f);
            }
            record_event_in!(tx, e, next_attempt_at);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn record_events(
        &self,
        events: &[(NewEvent, Option<DateTime<Utc>>)],
        fence: &Fence,
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        /// An order's latest event as the items so far leave it.
        enum Latest {
            /// Stored before this chunk (id, event).
            Stored(i64, NewEvent),
            /// Inserted by this chunk: its index in `inserts`.
            New(usize),
        }
        /// An event this chunk inserts, with the skips folded into it.
        struct Insert<'a> {
            e: &'a NewEvent,
            count: i64,
            last_at: i64,
            run_id: Option<&'a str>,
        }
        /// A stored event this chunk bumps.
        struct Bump<'a> {
            inc: i64,
            last_at: i64,
            run_id: Option<&'a str>,
        }
        /// An order's latest reason after this chunk's skips of it.
        struct Reason<'a> {
            e: &'a NewEvent,
            next: Option<DateTime<Utc>>,
            inc: i64,
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            // Chunks in sequence: each reads what the previous one wrote.
            for chunk in events.chunks(CHUNK) {
                let mut latest: HashMap<&str, Latest> = HashMap::new();
                // Only a skip can fold into the previous event, so only skipped POs are read.
                let skipped: HashSet<&str> = chunk
                    .iter()
                    .filter(|(e, _)| e.outcome == EventOutcome::Skipped)
                    .map(|(e, _)| e.po.as_str())
                    .collect();
                if !skipped.is_empty() {
                    let rows = sqlx::query(AssertSqlSafe(sql.last_events.clone()))
                        .bind(json_strings(skipped.iter().copied()))
                        .fetch_all(&mut *tx)
                        .await?;
                    for r in &rows {
                        let l = event_from(r)?;
                        if let Some(&p) = skipped.get(l.event.po.as_str()) {
                            latest.insert(p, Latest::Stored(l.id, l.event));
                        }
                    }
                }
                let mut inserts: Vec<Insert> = Vec::new();
                let mut bumps: BTreeMap<i64, Bump> = BTreeMap::new();
                let mut reasons: Vec<Reason> = Vec::new();
                let mut reason_of: HashMap<&str, usize> = HashMap::new();
                for (e, next) in chunk {
                    let po = e.po.as_str();
                    let folds = match latest.get(po) {
                        Some(Latest::Stored(_, prev)) => folds_into(prev, e),
                        Some(Latest::New(k)) => folds_into(inserts[*k].e, e),
                        None => false,
                    };
                    match latest.get(po) {
                        Some(Latest::Stored(id, _)) if folds => {
                            let b = bumps.entry(*id).or_insert(Bump { inc: 0, last_at: 0, run_id: None });
                            b.inc += 1;
                            b.last_at = ms(e.at);
                            b.run_id = e.run_id.as_deref();
                        }
                        Some(Latest::New(k)) if folds => {
                            let i = &mut inserts[*k];
                            i.count += 1;
                            i.last_at = ms(e.at);
                            i.run_id = e.run_id.as_deref();
                        }
                        _ => {
                            latest.insert(po, Latest::New(inserts.len()));
                            inserts.push(Insert { e, count: 1, last_at: ms(e.at), run_id: e.run_id.as_deref() });
                        }
                    }
                    if e.outcome == EventOutcome::Skipped {
                        match reason_of.get(po) {
                            Some(&k) => {
                                let r = &mut reasons[k];
                                r.e = e;
                                r.next = *next;
                                r.inc += 1;
                            }
                            None => {
                                reason_of.insert(po, reasons.len());
                                reasons.push(Reason { e, next: *next, inc: 1 });
                            }
                        }
                    }
                }
                if !bumps.is_empty() {
                    let items = bumps
                        .iter()
                        .map(|(id, b)| item!({ "id": id, "inc": b.inc, "last_at": b.last_at, "run_id": b.run_id }))
                        .collect();
                    batch_exec!(tx, sql.events_bump, items);
                }
                if !inserts.is_empty() {
                    let items = inserts
                        .iter()
                        .enumerate()
                        .map(|(k, i)| event_item(k, i.e, i.count, i.last_at, i.run_id))
                        .collect();
                    batch_exec!(tx, sql.events_insert, items);
                }
                if !reasons.is_empty() {
                    let items = reasons
                        .iter()
                        .map(|r| {
                            item!({
                                "po": r.e.po.as_str(),
                                "reason_code": r.e.reason_code.as_deref(),
                                "reason_kind": r.e.reason_kind.map(|k| k.as_str()),
                                "detail": r.e.detail,
                                "inc": r.inc,
                                "next_at": r.next.map(ms).unwrap_or(0),
                                "at": ms(r.e.at),
                            })
                        })
                        .collect();
                    batch_exec!(tx, sql.reasons_update, items);
                }
            }
        });
        Ok(())
    }

    async fn order_events(&self, po: &PoNumber) -> Result<Vec<OrderEvent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!("SELECT ", event_cols!(), " FROM order_events WHERE po = $1 ORDER BY id"))
                .bind(po.as_str())
                .fetch_all(p)
                .await?;
            rows.iter().map(event_from).collect()
        })
    }

    async fn due_orders(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", order_cols!(), " FROM orders WHERE stage = $1 AND next_attempt_at <= $2 \
                 ORDER BY stage_entered_at, po LIMIT $3"
            ))
            .bind(stage.number())
            .bind(ms(now))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(order_from).collect()
        })
    }

    async fn count_by_stage(&self) -> Result<BTreeMap<Stage, i64>> {
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT stage, COUNT(*) AS n FROM orders GROUP BY stage")
                .fetch_all(p)
                .await?;
            let mut out = BTreeMap::new();
            for r in &rows {
                out.insert(stage_of("orders", r.i64("stage")?)?, r.i64("n")?);
            }
            Ok(out)
        })
    }
    async fn entered_before(
        &self,
        stage: Stage,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<(i64, Vec<OrderRecord>)> {
        with_pool!(self, p => {
            let n = sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE stage = $1 AND stage_entered_at < $2")
                .bind(stage.number())
                .bind(ms(before))
                .fetch_one(p)
                .await?
                .i64("n")?;
            let rows = sqlx::query(concat!(
                "SELECT ", order_cols!(), " FROM orders WHERE stage = $1 AND stage_entered_at < $2 ORDER BY stage_entered_at, po LIMIT $3"
            ))
            .bind(stage.number())
            .bind(ms(before))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            Ok((n, rows.iter().map(order_from).collect::<Result<Vec<_>>>()?))
        })
    }

    async fn order_candidates(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>> {
        with_pool!(self, p => {
            let rows = sqlx::query(CANDIDATES)
            .bind(stage.number())
            .bind(ms(now))
            .bind(limit as i64)
            .fetch_all(p)
            .await?;
            rows.iter().map(order_from).collect()
        })
    }

    async fn orders_by_po(&self, pos: &[PoNumber]) -> Result<Vec<OrderRecord>> {
        let mut out = Vec::with_capacity(pos.len());
        read_by_po!(self, self.batch.orders_read, pos, |r| out
            .push(order_from(r)?));
        Ok(out)
    }

    async fn stages_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, Stage>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.order_stages, pos, |r| {
            out.insert(po_in(r, "orders")?, stage_of("orders", r.i64("stage")?)?);
        });
        Ok(out)
    }

    async fn payloads_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, RawJson>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.payloads_read, pos, |r| {
            out.insert(
                po_in(r, "order_payloads")?,
                RawJson::from_store(r.s("payload")?),
            );
        });
        Ok(out)
    }

    async fn mark_dirty(&self, pos: &[PoNumber], fence: Option<&Fence>) -> Result<u64> {
        let mut n = 0;
        for chunk in pos.chunks(CHUNK) {
            let list = json_strings(chunk.iter().map(PoNumber::as_str));
            n += with_pool!(self, p => {
                let mut tx = p.begin_write().await?;
                if let Some(f) = fence {
                    check_fence!(tx, f);
                }
                let k = sqlx::query(AssertSqlSafe(self.batch.dirty_mark.clone()))
                    .bind(list)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                k
            });
        }
        Ok(n)
    }

    async fn remark_changed(
        &self,
        seen: &[(PoNumber, i64)],
        fence: &Fence,
    ) -> Result<Vec<PoNumber>> {
        if seen.is_empty() {
            return Ok(Vec::new());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = Vec::new();
            for chunk in seen.chunks(CHUNK) {
                let items: Vec<Item> = chunk
                    .iter()
                    .map(|(po, n)| item!({"po": po.as_str(), "seen": n}))
                    .collect();
                let rows = sqlx::query(AssertSqlSafe(sql.remark.clone()))
                    .bind(items_json(items))
                    .fetch_all(&mut *tx)
                    .await?;
                for r in &rows {
                    out.push(po_in(r, "orders")?);
                }
            }
            Ok(out)
        })
    }

    async fn clear_dirty(&self, po: &PoNumber, fence: &Fence) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query("UPDATE orders SET dirty = 0 WHERE po = $1").bind(po.as_str()).execute(&mut *tx).await?;
        });
        Ok(())
    }

    async fn set_lingxing_view(
        &self,
        po: &PoNumber,
        store_id: Option<&str>,
        order_nos: &[String],
        snapshot: &Value,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<bool> {
        let one = LingxingView {
            po: po.clone(),
            store_id: store_id.map(str::to_owned),
            order_nos: order_nos.to_vec(),
            snapshot: LxView::from_value(snapshot),
        };
        let changed = self
            .set_lingxing_views(std::slice::from_ref(&one), now, fence)
            .await?;
        Ok(changed.first().copied().unwrap_or(false))
    }

    async fn set_lingxing_views(
        &self,
        views: &[LingxingView],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Vec<bool>> {
        if views.is_empty() {
            return Ok(Vec::new());
        }
        /// What the views of one PO in a chunk amount to, applied in sequence.
        struct Final<'a> {
            snap: String,
            order_nos: String,
            store_id: Option<&'a str>,
            changed: bool,
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            let mut out = Vec::with_capacity(views.len());
            for chunk in views.chunks(CHUNK) {
                let snaps: Vec<String> = chunk.iter().map(|v| v.snapshot.to_json()).collect();
                // The stored snapshot is compared with the first view of each PO; a later view of
                // the same PO compares with the one before it.
                let mut seen = HashSet::new();
                let firsts: Vec<Item> = chunk
                    .iter()
                    .zip(&snaps)
                    .filter(|(v, _)| seen.insert(v.po.as_str()))
                    .map(|(v, snap)| item!({ "po": v.po.as_str(), "snap": snap }))
                    .collect();
                let rows = sqlx::query(AssertSqlSafe(sql.views_compare.clone()))
                    .bind(items_json(firsts))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut same_as_stored: HashMap<String, bool> = HashMap::with_capacity(rows.len());
                for r in &rows {
                    same_as_stored.insert(r.s("po")?, r.i64("same")? == 1);
                }
                let mut finals: Vec<(&str, Final)> = Vec::new();
                let mut final_of: HashMap<&str, usize> = HashMap::new();
                for (v, snap) in chunk.iter().zip(snaps) {
                    let po = v.po.as_str();
                    let Some(&same) = same_as_stored.get(po) else {
                        // Not a known order: nothing to store.
                        out.push(false);
                        continue;
                    };
                    let order_nos = v.order_nos.join(",");
                    match final_of.get(po) {
                        Some(&k) => {
                            let f = &mut finals[k].1;
                            let changed = f.snap != snap;
                            f.changed |= changed;
                            f.snap = snap;
                            f.order_nos = order_nos;
                            f.store_id = v.store_id.as_deref().or(f.store_id);
                            out.push(changed);
                        }
                        None => {
                            final_of.insert(po, finals.len());
                            finals.push((po, Final { snap, order_nos, store_id: v.store_id.as_deref(), changed: !same }));
                            out.push(!same);
                        }
                    }
                }
                if !finals.is_empty() {
                    let items = finals
                        .iter()
                        .map(|(po, f)| {
                            item!({
                                "po": po,
                                "snap": f.snap,
                                "order_nos": f.order_nos,
                                "store_id": f.store_id,
                                "changed": i64::from(f.changed),
                            })
                        })
                        .collect();
                    batch_exec!(tx, sql.views_update, items, ms(now));
                }
            }
            Ok(out)
        })
    }

    async fn lingxing_views(
        &self,
        pos: &[PoNumber],
    ) -> Result<BTreeMap<PoNumber, (LxView, Option<DateTime<Utc>>)>> {
        let mut out = BTreeMap::new();
        read_by_po!(self, self.batch.views_read, pos, |r| {
            let view = LxView::from_json(&r.s("lx_snapshot")?);
            out.insert(
                po_in(r, "orders")?,
                (view, oat("orders", r.oi64("lx_checked_at")?)?),
            );
        });
        Ok(out)
    }

    async fn lingxing_view(&self, po: &PoNumber) -> Result<(Value, Option<DateTime<Utc>>)> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT lx_snapshot, lx_checked_at FROM orders WHERE po = $1")
                .bind(po.as_str())
                .fetch_optional(p)
                .await?;
            match row {
                None => Ok((Value::Null, None)),
                Some(r) => view_from(&r),
            }
        })
    }

    async fn add_tracking(&self, po: &PoNumber, tracking: &[String], fence: &Fence) -> Result<()> {
        self.add_trackings(&[(po.clone(), tracking.to_vec())], fence)
            .await
    }

    async fn set_invoice_id(&self, po: &PoNumber, invoice_id: &str, fence: &Fence) -> Result<()> {
        self.set_invoice_ids(&[(po.clone(), invoice_id.to_owned())], fence)
            .await
    }

    async fn add_trackings(&self, items: &[(PoNumber, Vec<String>)], fence: &Fence) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in items.chunks(CHUNK) {
                let rows = sqlx::query(AssertSqlSafe(sql.tracking_read.clone()))
                    .bind(json_strings(chunk.iter().map(|(p, _)| p.as_str())))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut lists: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for r in &rows {
                    lists.insert(r.s("po")?, split_list(&r.s("tracking")?));
                }
                for (po, tracking) in chunk {
                    // A PO twice in one call adds up; an unknown PO is left alone.
                    let Some(list) = lists.get_mut(po.as_str()) else { continue };
                    for t in tracking {
                        if !t.is_empty() && !list.contains(t) {
                            list.push(t.clone());
                        }
                    }
                }
                let values = lists
                    .iter()
                    .map(|(po, list)| item!({"po": po, "v": list.join(",")}))
                    .collect();
                batch_exec!(tx, sql.tracking_update, values);
            }
        });
        Ok(())
    }

    async fn set_invoice_ids(&self, items: &[(PoNumber, String)], fence: &Fence) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in items.chunks(CHUNK) {
                // The last one wins for a PO named twice, as one call after another would.
                let last: BTreeMap<&str, &str> =
                    chunk.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
                let values = last
                    .iter()
                    .map(|(po, v)| item!({"po": po, "v": v}))
                    .collect();
                batch_exec!(tx, sql.invoice_update, values);
            }
        });
        Ok(())
    }

    async fn add_flag(&self, po: &PoNumber, flag: &str, fence: Option<&Fence>) -> Result<()> {
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(f) = fence {
                check_fence!(tx, f);
            }
            let current = sqlx::query("SELECT flags FROM orders WHERE po = $1")
                .bind(po.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.s("flags"))
                .transpose()?
                .unwrap_or_default();
            let mut list = split_list(&current);
            if !list.iter().any(|f| f == flag) {
                list.push(flag.to_owned());
                sqlx::query("UPDATE orders SET flags = $1 WHERE po = $2")
                    .bind(list.join(","))
                    .bind(po.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn put_intent(
        &self,
        kind: IntentKind,
        key: &str,
        po: &PoNumber,
        payload: &Value,
        run_id: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Intent> {
        let one = NewIntent {
            key: key.to_owned(),
            po: po.clone(),
            payload: payload.clone(),
        };
        self.put_intents(kind, std::slice::from_ref(&one), run_id, now, fence, false)
            .await?;
        self.intent(kind, key)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                table: "intents",
                detail: format!(
                    "{} {key} missing right after it was recorded",
                    kind.as_str()
                ),
            })
    }

    async fn update_intent(
        &self,
        kind: IntentKind,
        key: &str,
        state: IntentState,
        outcome: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        let one = IntentUpdate {
            key: key.to_owned(),
            state,
            outcome: outcome.to_owned(),
        };
        self.update_intents(kind, std::slice::from_ref(&one), now, fence)
            .await
    }

    async fn update_intents(
        &self,
        kind: IntentKind,
        updates: &[IntentUpdate],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in updates.chunks(CHUNK) {
                // Per key, the updates in sequence: the last state and outcome, and one attempt
                // per submission or unclear outcome.
                let mut finals: Vec<(&IntentUpdate, i64)> = Vec::new();
                let mut final_of: HashMap<&str, usize> = HashMap::new();
                for u in chunk {
                    let inc = i64::from(matches!(u.state, IntentState::Submitted | IntentState::Ambiguous));
                    match final_of.get(u.key.as_str()) {
                        Some(&k) => {
                            finals[k].0 = u;
                            finals[k].1 += inc;
                        }
                        None => {
                            final_of.insert(&u.key, finals.len());
                            finals.push((u, inc));
                        }
                    }
                }
                let items = finals
                    .iter()
                    .map(|(u, inc)| {
                        item!({
                            "kind": kind.as_str(),
                            "k": u.key,
                            "state": u.state.as_str(),
                            "outcome": u.outcome,
                            "inc": inc,
                        })
                    })
                    .collect();
                batch_exec!(tx, sql.intents_update, items, ms(now));
            }
        });
        Ok(())
    }

    async fn put_intents(
        &self,
        kind: IntentKind,
        items: &[NewIntent],
        run_id: &str,
        now: DateTime<Utc>,
        fence: &Fence,
        restart: bool,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = &self.batch;
        fenced!(self, fence, tx => {
            for chunk in items.chunks(CHUNK) {
                // A key repeated in the chunk: its first item is the one recorded.
                let mut seen = HashSet::new();
                let rows: Vec<Item> = chunk
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| seen.insert(i.key.as_str()))
                    .map(|(idx, i)| {
                        item!({ "idx": idx, "k": i.key, "po": i.po.as_str(), "payload": i.payload.to_string() })
                    })
                    .collect();
                batch_exec!(tx, sql.intents_insert, rows, kind.as_str(), run_id, ms(now));
                if restart {
                    sqlx::query(AssertSqlSafe(sql.intents_restart.clone()))
                        .bind(json_strings(seen.iter().copied()))
                        .bind(ms(now))
                        .bind(kind.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        });
        Ok(())
    }

    async fn intent(&self, kind: IntentKind, key: &str) -> Result<Option<Intent>> {
        with_pool!(self, p => {
            let row = sqlx::query(concat!("SELECT ", intent_cols!(), " FROM intents WHERE kind = $1 AND key = $2"))
                .bind(kind.as_str())
                .bind(key)
                .fetch_optional(p)
                .await?;
            row.map(|r| intent_from(&r)).transpose()
        })
    }

    async fn intents(&self, kind: IntentKind, keys: &[String]) -> Result<BTreeMap<String, Intent>> {
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(CHUNK) {
            let list = json_strings(chunk.iter().map(String::as_str));
            with_pool!(self, p => {
                let rows = sqlx::query(AssertSqlSafe(self.batch.intents_read.clone()))
                    .bind(list)
                    .bind(kind.as_str())
                    .fetch_all(p)
                    .await?;
                for r in &rows {
                    let i = intent_from(r)?;
                    out.insert(i.key.clone(), i);
                }
            });
        }
        Ok(out)
    }

    async fn request_intents(&self, kind: IntentKind, request_id: &str) -> Result<Vec<Intent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", intent_cols!(),
                " FROM intents WHERE kind = $1 AND state = 'submitted' AND outcome = $2 ORDER BY id"
            ))
            .bind(kind.as_str())
            .bind(request_id)
            .fetch_all(p)
            .await?;
            rows.iter().map(intent_from).collect()
        })
    }

    async fn intents_for(&self, po: &PoNumber) -> Result<Vec<Intent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!("SELECT ", intent_cols!(), " FROM intents WHERE po = $1 ORDER BY id"))
                .bind(po.as_str())
                .fetch_all(p)
                .await?;
            rows.iter().map(intent_from).collect()
        })
    }

    async fn open_intents(&self, kind: IntentKind, limit: u32) -> Result<Vec<Intent>> {
        with_pool!(self, p => {
            let rows = sqlx::query(concat!(
                "SELECT ", intent_cols!(),
                " FROM intents WHERE kind = $1 AND state IN ('pending', 'ambiguous') ORDER BY id LIMIT $2"
            ))
                .bind(kind.as_str())
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?;
            rows.iter().map(intent_from).collect()
        })
    }

    async fn intents_of(
        &self,
        pos: &[PoNumber],
        kinds: &[IntentKind],
    ) -> Result<BTreeMap<PoNumber, Vec<Intent>>> {
        let mut out: BTreeMap<PoNumber, Vec<Intent>> = BTreeMap::new();
        let kinds = json_strings(kinds.iter().map(|k| k.as_str()));
        read_by_po!(self, self.batch.intents_of_read, pos, &kinds, |r| {
            let i = intent_from(r)?;
            out.entry(i.po.clone()).or_default().push(i);
        });
        Ok(out)
    }

    async fn insert_dsco_request(&self, req: &DscoRequest, fence: &Fence) -> Result<()> {
        let keys = serde_json::to_string(&req.keys).expect("json");
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO dsco_requests (request_id, kind, keys, state, result, run_id, submitted_at, checked_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $7)",
            )
            .bind(&req.request_id)
            .bind(req.kind.as_str())
            .bind(keys)
            .bind(req.state.as_str())
            .bind(&req.result)
            .bind(req.run_id.as_deref())
            .bind(ms(req.submitted_at))
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn pending_dsco_requests(&self, kind: IntentKind) -> Result<Vec<DscoRequest>> {
        const T: &str = "dsco_requests";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT request_id, kind, keys, state, result, run_id, submitted_at, checked_at FROM dsco_requests \
                 WHERE kind = $1 AND state = 'pending' ORDER BY submitted_at",
            )
            .bind(kind.as_str())
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DscoRequest {
                        request_id: r.s("request_id")?,
                        kind,
                        keys: serde_json::from_str(&r.s("keys")?).map_err(|e| StoreError::Corrupt { table: T, detail: e.to_string() })?,
                        state: DscoRequestState::Pending,
                        result: r.s("result")?,
                        run_id: r.os("run_id")?,
                        submitted_at: at(T, r.i64("submitted_at")?)?,
                        checked_at: oat(T, r.oi64("checked_at")?)?,
                    })
                })
                .collect()
        })
    }

    async fn finish_dsco_request(
        &self,
        request_id: &str,
        state: DscoRequestState,
        result: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query("UPDATE dsco_requests SET state = $1, result = $2, checked_at = $3, updated_at = $3 WHERE request_id = $4")
                .bind(state.as_str())
                .bind(result)
                .bind(ms(now))
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    // --- sync_stock ---------------------------------------------------------------------------

    async fn stock_state(&self) -> Result<BTreeMap<String, StockState>> {
        let mut out = BTreeMap::new();
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT dsco_sku, confirmed_wh, confirmed_at, sent_wh, sent_request_id, sent_at FROM stock_state")
                .fetch_all(p)
                .await?;
            for r in rows {
                out.insert(r.s("dsco_sku")?, StockState {
                    confirmed: r.os("confirmed_wh")?.map(|w| wh_from("stock_state", &w)).transpose()?,
                    confirmed_at: oat("stock_state", r.oi64("confirmed_at")?)?,
                    sent: r.os("sent_wh")?.map(|w| wh_from("stock_state", &w)).transpose()?,
                    sent_request_id: r.os("sent_request_id")?,
                    sent_at: oat("stock_state", r.oi64("sent_at")?)?,
                });
            }
        });
        Ok(out)
    }

    async fn record_stock_run(
        &self,
        run: &StockRun,
        items: &[StockItem],
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO stock_sync_runs (run_id, at, state, full_push, skus_read, skus_changed, skus_sent, \
                 above_zero, drops_to_zero, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&run.run_id)
            .bind(ms(run.at))
            .bind(run.state.as_str())
            .bind(i64::from(run.full_push))
            .bind(run.skus_read)
            .bind(run.skus_changed)
            .bind(run.skus_sent)
            .bind(run.above_zero)
            .bind(run.drops_to_zero)
            .bind(&run.note)
            .execute(&mut *tx)
            .await?;
            for i in items {
                let sent_wh = wh_to(&i.warehouses);
                sqlx::query(
                    "INSERT INTO stock_sync_items (run_id, dsco_sku, lingxing_sku, read_wh, sent_wh, qty, previous_qty, \
                     sent, request_id, outcome, message, at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&i.run_id)
                .bind(&i.dsco_sku)
                .bind(&i.lingxing_sku)
                .bind(wh_to(&i.read))
                .bind(&sent_wh)
                .bind(i.qty)
                .bind(i.previous_qty)
                .bind(i64::from(i.sent))
                .bind(i.request_id.as_deref())
                .bind(i.outcome.as_str())
                .bind(&i.message)
                .bind(ms(i.at))
                .bind(ms(i.updated_at))
                .execute(&mut *tx)
                .await?;
                if i.sent && i.outcome != StockOutcome::SendFailed {
                    sqlx::query(
                        "INSERT INTO stock_state (dsco_sku, sent_qty, sent_wh, sent_request_id, sent_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dsco_sku) DO UPDATE SET \
                         sent_qty = excluded.sent_qty, sent_wh = excluded.sent_wh, \
                         sent_request_id = excluded.sent_request_id, sent_at = excluded.sent_at",
                    )
                    .bind(&i.dsco_sku)
                    .bind(i.qty)
                    .bind(&sent_wh)
                    .bind(i.request_id.as_deref())
                    .bind(ms(i.at))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        });
        Ok(())
    }

    async fn pending_stock_requests(&self) -> Result<Vec<String>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT DISTINCT request_id FROM stock_sync_items WHERE outcome = 'pending' AND request_id IS NOT NULL \
                 ORDER BY request_id",
            )
            .fetch_all(p)
            .await?;
            rows.iter().map(|r| r.s("request_id")).collect()
        })
    }

    async fn settle_stock_items(
        &self,
        request_id: &str,
        outcomes: &[StockSettle],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            // One read of the request's pending items instead of one per outcome.
            let rows = sqlx::query(
                "SELECT run_id, dsco_sku, sent_wh, qty FROM stock_sync_items WHERE request_id = $1 AND outcome = 'pending'",
            )
            .bind(request_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut pending: BTreeMap<String, (String, String, i64)> = BTreeMap::new();
            for r in rows {
                pending.insert(r.s("dsco_sku")?, (r.s("run_id")?, r.s("sent_wh")?, r.i64("qty")?));
            }
            for o in outcomes {
                let Some((run_id, sent_wh, qty)) = pending.get(&o.dsco_sku) else { continue };
                sqlx::query(
                    // By primary key: with an index on `outcome` too, SQLite's planner may
                    // otherwise scan every pending item per update.
                    "UPDATE stock_sync_items SET outcome = $1, message = $2, updated_at = $3 \
                     WHERE run_id = $4 AND dsco_sku = $5",
                )
                .bind(o.outcome.as_str())
                .bind(&o.message)
                .bind(ms(now))
                .bind(run_id)
                .bind(&o.dsco_sku)
                .execute(&mut *tx)
                .await?;
                if o.outcome.settles() {
                    sqlx::query(
                        "INSERT INTO stock_state (dsco_sku, confirmed_qty, confirmed_wh, confirmed_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (dsco_sku) DO UPDATE SET confirmed_qty = excluded.confirmed_qty, \
                         confirmed_wh = excluded.confirmed_wh, confirmed_at = excluded.confirmed_at",
                    )
                    .bind(&o.dsco_sku)
                    .bind(*qty)
                    .bind(sent_wh)
                    .bind(ms(now))
                    .execute(&mut *tx)
                    .await?;
                }
                // The SKU's pending value is settled (either way) when it came from this request.
                sqlx::query(
                    "UPDATE stock_state SET sent_qty = NULL, sent_wh = NULL, sent_request_id = NULL, sent_at = NULL \
                     WHERE dsco_sku = $1 AND sent_request_id = $2",
                )
                .bind(&o.dsco_sku)
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    async fn stock_runs(&self, held_only: bool, limit: u32) -> Result<Vec<StockRun>> {
        let sql = if held_only {
            "SELECT * FROM stock_sync_runs WHERE state = 'held' ORDER BY at DESC, run_id DESC LIMIT $1"
        } else {
            "SELECT * FROM stock_sync_runs ORDER BY at DESC, run_id DESC LIMIT $1"
        };
        with_pool!(self, p => {
            let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(p).await?;
            rows.iter()
                .map(|r| {
                    let state = r.s("state")?;
                    Ok(StockRun {
                        run_id: r.s("run_id")?,
                        at: at("stock_sync_runs", r.i64("at")?)?,
                        state: StockRunState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                            table: "stock_sync_runs",
                            detail: format!("state {state}"),
                        })?,
                        full_push: r.i64("full_push")? != 0,
                        skus_read: r.i64("skus_read")?,
                        skus_changed: r.i64("skus_changed")?,
                        skus_sent: r.i64("skus_sent")?,
                        above_zero: r.i64("above_zero")?,
                        drops_to_zero: r.i64("drops_to_zero")?,
                        note: r.s("note")?,
                        released_by: r.os("released_by")?,
                        released_at: oat("stock_sync_runs", r.oi64("released_at")?)?,
                        release_reason: r.os("release_reason")?,
                    })
                })
                .collect()
        })
    }

    async fn release_stock_runs(
        &self,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>> {
        if reason.trim().is_empty() {
            return Err(StoreError::NotAllowed(
                "releasing a held stock run needs a reason".into(),
            ));
        }
        let mut ids = Vec::new();
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let rows = sqlx::query("SELECT run_id FROM stock_sync_runs WHERE state = 'held' ORDER BY at")
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                ids.push(r.s("run_id")?);
            }
            if !ids.is_empty() {
                sqlx::query(
                    "UPDATE stock_sync_runs SET state = 'released', released_by = $1, released_at = $2, \
                     release_reason = $3 WHERE state = 'held'",
                )
                .bind(actor)
                .bind(ms(now))
                .bind(reason)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, 'stock.release', $3, $4, $5)")
                    .bind(ms(now))
                    .bind(actor)
                    .bind(ids.join(","))
                    .bind(reason)
                    .bind(serde_json::json!({ "runs": ids }).to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(ids)
    }

    async fn take_stock_release(&self, fence: &Fence) -> Result<Option<String>> {
        let mut taken = None;
        fenced!(self, fence, tx => {
            let row = sqlx::query(
                "SELECT run_id FROM stock_sync_runs WHERE state = 'released' AND release_used = 0 ORDER BY at DESC LIMIT 1",
            )
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                taken = Some(r.s("run_id")?);
                sqlx::query("UPDATE stock_sync_runs SET release_used = 1 WHERE state = 'released' AND release_used = 0")
                    .execute(&mut *tx)
                    .await?;
            }
        });
        Ok(taken)
    }

    async fn stock_items_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<StockItem>> {
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM stock_sync_items WHERE at >= $1 ORDER BY at, run_id, dsco_sku LIMIT $2",
            )
            .bind(ms(since))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    let outcome = r.s("outcome")?;
                    Ok(StockItem {
                        run_id: r.s("run_id")?,
                        dsco_sku: r.s("dsco_sku")?,
                        lingxing_sku: r.s("lingxing_sku")?,
                        read: wh_from("stock_sync_items", &r.s("read_wh")?)?,
                        warehouses: wh_from("stock_sync_items", &r.s("sent_wh")?)?,
                        qty: r.i64("qty")?,
                        previous_qty: r.oi64("previous_qty")?,
                        sent: r.i64("sent")? != 0,
                        request_id: r.os("request_id")?,
                        outcome: StockOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
                            table: "stock_sync_items",
                            detail: format!("outcome {outcome}"),
                        })?,
                        message: r.s("message")?,
                        at: at("stock_sync_items", r.i64("at")?)?,
                        updated_at: at("stock_sync_items", r.i64("updated_at")?)?,
                    })
                })
                .collect()
        })
    }

    // --- pull_sku_pair, run details -------------------------------------------------------------

    async fn record_sku_conflicts(&self, conflicts: &[SkuConflict], fence: &Fence) -> Result<()> {
        fenced!(self, fence, tx => {
            for c in conflicts {
                sqlx::query(
                    "INSERT INTO sku_pair_conflicts (run_id, at, kind, store_id, msku, sku, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&c.run_id)
                .bind(ms(c.at))
                .bind(c.kind.as_str())
                .bind(&c.store_id)
                .bind(&c.msku)
                .bind(&c.sku)
                .bind(&c.detail)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    async fn sku_conflicts(&self, run_id: &str) -> Result<Vec<SkuConflict>> {
        with_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM sku_pair_conflicts WHERE run_id = $1 ORDER BY id")
                .bind(run_id)
                .fetch_all(p)
                .await?;
            rows.iter()
                .map(|r| {
                    let kind = r.s("kind")?;
                    Ok(SkuConflict {
                        run_id: r.s("run_id")?,
                        at: at("sku_pair_conflicts", r.i64("at")?)?,
                        kind: SkuConflictKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
                            table: "sku_pair_conflicts",
                            detail: format!("kind {kind}"),
                        })?,
                        store_id: r.s("store_id")?,
                        msku: r.s("msku")?,
                        sku: r.s("sku")?,
                        detail: r.s("detail")?,
                    })
                })
                .collect()
        })
    }

    async fn set_run_detail(
        &self,
        run_id: &str,
        job: JobName,
        detail: &Value,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        fenced!(self, fence, tx => {
            sqlx::query(
                "INSERT INTO run_details (run_id, job, at, detail) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (run_id) DO UPDATE SET detail = excluded.detail, at = excluded.at",
            )
            .bind(run_id)
            .bind(job.as_str())
            .bind(ms(now))
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    async fn run_detail(&self, run_id: &str) -> Result<Option<Value>> {
        with_pool!(self, p => {
            let row = sqlx::query("SELECT detail FROM run_details WHERE run_id = $1")
                .bind(run_id)
                .fetch_optional(p)
                .await?;
            row.map(|r| {
                let text = r.s("detail")?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    table: "run_details",
                    detail: e.to_string(),
                })
            })
            .transpose()
        })
    }

    // --- data defects (issue 13): DSCO orders without a PO ------------------------------------

    async fn record_unreadable_orders(
        &self,
        items: &[UnreadableOrder],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        fenced!(self, fence, tx => {
            for u in items {
                sqlx::query(
                    "INSERT INTO unreadable_orders (dsco_order_id, first_seen, last_seen, seen, reason_code, detail, payload) \
                     VALUES ($1, $2, $2, 1, $3, $4, $5) \
                     ON CONFLICT (dsco_order_id) DO UPDATE SET last_seen = excluded.last_seen, \
                     seen = unreadable_orders.seen + 1, reason_code = excluded.reason_code, \
                     detail = excluded.detail, payload = excluded.payload, resolved_at = NULL",
                )
                .bind(&u.dsco_order_id)
                .bind(ms(now))
                .bind(&u.reason_code)
                .bind(&u.detail)
                .bind(u.payload.get())
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    async fn resolve_unreadable_orders(
        &self,
        dsco_order_ids: &[String],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<u64> {
        if dsco_order_ids.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        fenced!(self, fence, tx => {
            for id in dsco_order_ids {
                n += sqlx::query(
                    "UPDATE unreadable_orders SET resolved_at = $1 \
                     WHERE dsco_order_id = $2 AND resolved_at IS NULL",
                )
                .bind(ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        });
        Ok(n)
    }

    async fn unreadable_orders(
        &self,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<UnreadableOrderRecord>> {
        const T: &str = "unreadable_orders";
        with_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM unreadable_orders WHERE resolved_at IS NULL OR $1 = 0 \
                 ORDER BY first_seen, dsco_order_id LIMIT $2",
            )
            .bind(i64::from(open_only))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(UnreadableOrderRecord {
                        order: UnreadableOrder {
                            dsco_order_id: r.s("dsco_order_id")?,
                            reason_code: r.s("reason_code")?,
                            detail: r.s("detail")?,
                            payload: RawJson::from_store(r.s("payload")?),
                        },
                        first_seen: at(T, r.i64("first_seen")?)?,
                        last_seen: at(T, r.i64("last_seen")?)?,
                        seen: r.i64("seen")?,
                        resolved_at: oat(T, r.oi64("resolved_at")?)?,
                    })
                })
                .collect()
        })
    }
}

fn wh_to(w: &WarehouseQty) -> String {
    serde_json::to_string(w).unwrap_or_else(|_| "{}".into())
}

fn wh_from(table: &'static str, text: &str) -> Result<WarehouseQty> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Candidates come out of an index in their order: no sort, which would copy every matching
    /// order with its payload.
    #[tokio::test]
    async fn candidates_are_read_in_index_order_without_a_sort() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/plan.db", dir.path().display());
        let store = SqlStore::connect(&url).await.unwrap();
        let Pool::Sqlite(pool) = &store.pool else {
            unreachable!()
        };
        let plan: Vec<String> =
            sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {CANDIDATES}")))
                .bind(3)
                .bind(0)
                .bind(500)
                .fetch_all(pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.s("detail").unwrap())
                .collect();
        assert!(
            plan.iter()
                .any(|d| d.contains("USING INDEX orders_stage_order")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|d| d.contains("TEMP B-TREE")), "{plan:?}");
    }

    /// A new SQLite database at `url` with the migrations before `version` applied, as an older
    /// release left it.
    async fn migrated_before(url: &str, version: i64) -> SqlitePool {
        let opts = SqliteConnectOptions::from_str(url)
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(opts).await.unwrap();
        let mut before = Migrator::new(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite"
        )))
        .await
        .unwrap();
        let older: Vec<_> = before
            .migrations
            .iter()
            .filter(|m| m.version < version)
            .cloned()
            .collect();
        assert_eq!(older.last().unwrap().version, version - 1);
        before.migrations = older.into();
        before.run(&pool).await.unwrap();
        pool
    }

    /// A database made before the payloads moved out of `orders` keeps every payload.
    #[tokio::test]
    async fn orders_keep_their_payloads_through_the_move_to_their_own_table() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/old.db", dir.path().display());
        {
            let pool = migrated_before(&url, 4).await;
            for (po, payload) in [
                ("PO-1", r#"{"poNumber":"PO-1","x":1}"#),
                ("PO-2", r#"{"poNumber":"PO-2"}"#),
            ] {
                sqlx::query(
                    "INSERT INTO orders (po, stage, skus, payload, stage_entered_at, created_at, updated_at) \
                     VALUES ($1, 2, '', $2, 0, 0, 0)",
                )
                .bind(po)
                .bind(payload)
                .execute(&pool)
                .await
                .unwrap();
            }
            pool.close().await;
        }
        let store = SqlStore::connect(&url).await.unwrap();
        let o = store
            .get_order(&PoNumber::parse("PO-1").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.pulled.payload.get(), r#"{"poNumber":"PO-1","x":1}"#);
        assert_eq!(o.stage, Stage::Pushed);
        let both = store
            .orders_by_po(&[
                PoNumber::parse("PO-1").unwrap(),
                PoNumber::parse("PO-2").unwrap(),
            ])
            .await
            .unwrap();
        assert_eq!(both.len(), 2);
        let Pool::Sqlite(pool) = &store.pool else {
            unreachable!()
        };
        let cols: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('orders')")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.s("name").unwrap())
            .collect();
        assert!(!cols.contains(&"payload".to_owned()), "{cols:?}");
    }

    /// Writes left open on orders already past them when 0008 runs are closed by it; open writes
    /// of orders still waiting for them are left alone.
    #[tokio::test]
    async fn open_writes_of_orders_already_past_them_are_closed_by_0008() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/old.db", dir.path().display());
        {
            let pool = migrated_before(&url, 8).await;
            for (po, stage, kind, state) in [
                ("PO-DONE", 5, "ack", "pending"),
                ("PO-SHIP", 3, "ack", "ambiguous"),
                ("PO-CXL", 6, "create", "pending"),
                ("PO-WAIT", 2, "ack", "pending"),
                ("PO-SENT", 3, "shipment", "pending"),
            ] {
                sqlx::query(
                    "INSERT INTO orders (po, stage, skus, stage_entered_at, created_at, updated_at) \
                     VALUES ($1, $2, '', 0, 0, 0)",
                )
                .bind(po)
                .bind(stage)
                .execute(&pool)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO intents (kind, key, po, state, created_at, updated_at) \
                     VALUES ($1, $2, $2, $3, 0, 0)",
                )
                .bind(kind)
                .bind(po)
                .bind(state)
                .execute(&pool)
                .await
                .unwrap();
            }
            pool.close().await;
        }
        let store = SqlStore::connect(&url).await.unwrap();
        let state = |po: &'static str| {
            let store = &store;
            async move {
                store
                    .intents_for(&PoNumber::parse(po).unwrap())
                    .await
                    .unwrap()[0]
                    .state
            }
        };
        assert_eq!(state("PO-DONE").await, IntentState::Confirmed);
        assert_eq!(state("PO-SHIP").await, IntentState::Confirmed);
        assert_eq!(state("PO-CXL").await, IntentState::Failed);
        assert_eq!(state("PO-WAIT").await, IntentState::Pending);
        assert_eq!(state("PO-SENT").await, IntentState::Pending);
    }

    /// Every batch statement loops over its items and reaches table rows through an index.
    /// Given a constant on a prefix of a key (an intent's kind), SQLite's planner may instead
    /// loop over the table and scan the items for each row: quadratic, and only visible at
    /// scale. Checked on the bundled SQLite's plans, not on timings.
    #[tokio::test]
    async fn batch_statements_loop_over_the_items_not_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/plan.db", dir.path().display());
        let store = SqlStore::connect(&url).await.unwrap();
        let Pool::Sqlite(pool) = &store.pool else {
            unreachable!()
        };
        let b = &store.batch;
        let statements = [
            &b.cas_update,
            &b.events_insert,
            &b.last_events,
            &b.events_bump,
            &b.reasons_update,
            &b.views_compare,
            &b.views_update,
            &b.intents_update,
            &b.intents_insert,
            &b.intents_restart,
            &b.intents_read,
            &b.order_stages,
            &b.orders_insert,
            &b.payloads_read,
            &b.orders_refresh,
            &b.orders_read,
            &b.views_read,
            &b.dirty_mark,
            &b.remark,
            &b.intents_of_read,
            &b.tracking_read,
            &b.tracking_update,
            &b.invoice_update,
        ];
        let tables = ["orders", "order_payloads", "order_events", "intents"];
        for sql in statements {
            let params = (1..=9).filter(|n| sql.contains(&format!("${n}"))).count();
            let mut q = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))).bind("[]");
            for _ in 1..params {
                q = q.bind("x");
            }
            let rows = q.fetch_all(pool).await.unwrap();
            let plan: Vec<(i64, String)> = rows
                .iter()
                .map(|r| (r.i64("parent").unwrap(), r.s("detail").unwrap()))
                .collect();
            let on_table = |d: &str| {
                tables.iter().any(|t| {
                    d.starts_with(&format!("SCAN {t}")) || d.starts_with(&format!("SEARCH {t} "))
                })
            };
            for (_, d) in &plan {
                assert!(
                    !tables.iter().any(|t| d.starts_with(&format!("SCAN {t}"))),
                    "a table scan in {sql}: {plan:?}"
                );
            }
            // In a join (top-level loops, outer first) the items must be the outer loop.
            let top: Vec<&str> = plan
                .iter()
                .filter(|(parent, _)| *parent == 0)
                .map(|(_, d)| d.as_str())
                .collect();
            if let (Some(items), Some(table)) = (
                top.iter()
                    .position(|d| d.contains("json_each") || d.starts_with("SCAN r")),
                top.iter().position(|d| on_table(d)),
            ) {
                assert!(
                    items < table,
                    "the table is the outer loop in {sql}: {plan:?}"
                );
            }
        }
    }
}

// After the macros above, which it uses.
pub mod read;
