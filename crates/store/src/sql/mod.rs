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
//! apply a whole batch in one fenced transaction with the same per-item rules as the items applied
//! one at a time (there are no single-item forms; `store::testing` has one-item helpers over the
//! batch forms for tests): a job writes a far-side call's intents, its outcome and its orders'
//! skips in three transactions, not three per order. Each batch form is set-based: its items, made by `item!`,
//! travel per chunk of 500 as the rows of a `VALUES` on SQLite (one parameter per value) and as
//! one JSON parameter on PostgreSQL (`jsonb_to_recordset`; see `batch::ItemSql`), and cost a
//! handful of statements per chunk, whatever their number; a PO named twice in one batch is
//! resolved in Rust so that the result equals one-item calls in sequence (tests compare the two on
//! twin stores). In the jobs, a pass over a batch collects its decisions (`Outcomes`: skips and stage
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
use domain::{
    JobName, PoNumber, ReasonCode, ReasonKind, RunCounts, RunOutcome, RuntimeConfig, Stage, Trigger,
};
use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row, Type};

use crate::*;
use batch::{BatchSql, Item, ItemSql, ToVal, Val, items_json};

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

/// Inside a transaction: appends one entry to the audit log (`$detail` as JSON text).
macro_rules! audit_in {
    ($tx:expr, $at:expr, $actor:expr, $action:expr, $target:expr, $reason:expr, $detail:expr $(,)?) => {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ms($at))
        .bind($actor)
        .bind($action)
        .bind($target)
        .bind($reason)
        .bind($detail)
        .execute(&mut *$tx)
        .await?
    };
}

macro_rules! intent_cols {
    () => {
        "id, kind, key, po, state, payload, outcome, attempts, run_id, created_at, updated_at"
    };
}

/// An intent's columns without its payload (read as `Null`): what the jobs' gates and settling
/// read, for thousands of intents a run (the payload, parsed into JSON, was a tenth of the
/// engine's own work in reading them).
macro_rules! intent_cols_bare {
    () => {
        "id, kind, key, po, state, '' AS payload, outcome, attempts, run_id, created_at, updated_at"
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
         attempts, next_attempt_at, stage_entered_at, created_at, updated_at, marks, ignored_at"
    };
}

/// Which orders [`CANDIDATES`] reads, and in which order.
macro_rules! candidates_where {
    () => {
        " FROM orders WHERE stage = $1 AND (dirty = 1 OR next_attempt_at <= $2) \
         ORDER BY stage_entered_at, po LIMIT $3"
    };
}

/// The orders a job decides on: at its stage, marked for a decision or due, oldest first. The
/// index `orders_stage_order` yields them in that order, so no sort runs: sorting would copy
/// every matching order with its payload.
const CANDIDATES: &str = concat!("SELECT ", order_cols!(), candidates_where!());

/// The PO numbers of [`CANDIDATES`] alone.
const CANDIDATE_POS: &str = concat!("SELECT po", candidates_where!());

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

/// The query of the batch write `$sql` (an [`ItemSql`]) over the items `$items` (a
/// `Vec<Item>`), with the further arguments `$arg` (its `$2`, `$3`…) bound after them.
macro_rules! batch_query {
    ($sql:expr, $items:expr $(, $arg:expr)*) => {{
        let stmt: &ItemSql = &$sql;
        let items: Vec<Item> = $items;
        let mut q = sqlx::query(AssertSqlSafe(stmt.text(items.len())))
            .persistent(stmt.keep(items.len()));
        match stmt.backend() {
            BackendKind::Sqlite => {
                for item in items {
                    for v in stmt.values(item) {
                        q = match v {
                            Val::Null => q.bind(None::<String>),
                            Val::Int(i) => q.bind(i),
                            Val::Text(t) => q.bind(t),
                        };
                    }
                }
            }
            BackendKind::Postgres => q = q.bind(items_json(items)),
        }
        $(q = q.bind($arg);)*
        q
    }};
}

/// Runs the batch write `$sql` over `$items` (see [`batch_query`]) and answers the rows it
/// touched.
macro_rules! batch_exec {
    ($tx:expr, $sql:expr, $items:expr $(, $arg:expr)*) => {{
        batch_query!($sql, $items $(, $arg)*)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
    }};
}

/// `item!({"key": value, …})`: an [`Item`] with those fields (each value a [`ToVal`]).
macro_rules! item {
    ({ $($k:literal : $v:expr),* $(,)? }) => {{
        Item(vec![$(($k, ($v).to_val())),*])
    }};
}

/// Runs the batch read `$sql` (its `$1` a JSON list of POs, then the `$arg`s) over `$pos` a chunk
/// of [`CHUNK`] at a time, handing each row to `$each` as `$r`.
macro_rules! read_by_po {
    ($self:expr, $sql:expr, $pos:expr, $(&$arg:expr,)* |$r:ident| $each:expr) => {{
        for chunk in $pos.chunks(CHUNK) {
            let list = json_strings(chunk.iter().map(PoNumber::as_str));
            with_pool!($self, p => {
                let rows = collect_rows(
                    sqlx::query(AssertSqlSafe($sql.clone()))
                        .bind(list)
                        $(.bind(&$arg))*
                        .fetch(p),
                )
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

/// A JSON array of strings (for the `IN` lists of [`BatchSql`]).
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

/// A stored reason code: one of the catalogue's (codes are only ever added to it), else
/// `Corrupt` naming the column and the value.
fn reason_code_of(table: &'static str, v: &str) -> Result<ReasonCode> {
    ReasonCode::parse(v).ok_or_else(|| StoreError::Corrupt {
        table,
        detail: format!("reason_code `{v}` is not in the reason catalogue"),
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
        ignored_at: oat(T, r.oi64("ignored_at")?)?,
    })
}

/// An order row's current reason (`reason_code`, `reason_kind`, `reason_detail`).
fn reason_in(r: &impl Cols) -> Result<Option<OrderReason>> {
    Ok(match (r.os("reason_code")?, r.os("reason_kind")?) {
        (Some(code), Some(kind)) => Some(OrderReason {
            code: reason_code_of("orders", &code)?,
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
            reason_code: r
                .os("reason_code")?
                .map(|c| reason_code_of(T, &c))
                .transpose()?,
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

/// The SQLite pool's size: one connection. SQLite takes one writer at a time, and in WAL mode a
/// connection drops its whole page cache whenever another connection has committed since its
/// last read: with two connections taking turns (the pool hands them out in rotation), nearly
/// every read found a cold cache and fetched its pages from the OS again (`pread` was an eighth
/// of the SQLite thread's time in `perf`). With one, the cache stays warm across the jobs'
/// statements. Measured on the zero-latency 10,000-order run, three interleaved pairs: engine
/// CPU ÷ the simulators' CPU 1.79–1.93 with two connections, 1.59–1.71 with one (context
/// switches 66,000–69,000 → 54,000–60,000). Before that, `bench scale` at 100,000 orders: 8
/// connections 214 MiB peak RSS, 3 197 MiB, 2 176 MiB (each connection is a thread with its own
/// cache, and the allocator keeps memory per thread). Console reads wait for a job's statement
/// in progress (milliseconds: every read is paged). No store method holds a connection while
/// asking for another (the whole test suite runs on this one connection), so it cannot deadlock.
const SQLITE_CONNECTIONS: u32 = 1;

/// Page size of a new SQLite file (SQLite's default is 4 KiB). A DSCO payload of a few
/// kilobytes spilled from its row onto overflow pages, each read apart; with 8 KiB most fit on
/// their row's page. Engine CPU of the zero-latency bench, engine ÷ simulators' CPU over six runs
/// each, interleaved: median 1.86 with 4 KiB, 1.77 with 8 KiB, 1.78 with 16 KiB. The page cache
/// is set in KiB, so its memory is the same. A file keeps the page size it was created with.
const PAGE_SIZE: u32 = 8192;

/// Rows a SQLite connection's thread may hand to the runtime before it waits for them to be
/// taken (sqlx's default is 50). Each row crosses from that thread to the runtime's; with a
/// short channel the two threads woke each other for nearly every row of a large read (a full
/// channel stops the connection, a taken row wakes it again). The jobs collect every row of a
/// read anyway, so a longer channel holds no more memory than the result.
const ROW_BUFFER: usize = 10_000;

/// Rows of a read taken one at a time before the rest is taken in bursts (see [`collect_rows`]).
const BURST_AFTER: usize = 32;

/// How long a long read's collector waits between bursts. Tokio's timer counts milliseconds.
const BURST_PAUSE: Duration = Duration::from_millis(1);

/// Collects a read's rows, as `fetch_all` does, without being woken for each row of a long read.
///
/// A SQLite connection's thread hands its rows over one at a time. A collector that waits for
/// the next row as soon as it has taken one is faster than the connection, so nearly every row
/// woke it (a futex wake on the connection's thread, a context switch on the runtime's): the
/// main cause of the engine's 120,000 context switches in the zero-latency bench. The first
/// [`BURST_AFTER`] rows are taken as they come, so a short read returns at once; after them the
/// collector takes whatever is ready, then pauses for [`BURST_PAUSE`] while the connection queues
/// rows (up to `ROW_BUFFER`) without waking anyone. On PostgreSQL the rows are parsed from the
/// socket on the collector's own task; the same bursts there measured no worse (zero-latency
/// bench on PostgreSQL: wall time 23.8–26.6 s against 24.4–27.3 s, engine CPU 5.5–6.1 s against
/// 6.2–6.9 s before).
pub(crate) async fn collect_rows<T, E>(
    mut rows: impl futures::Stream<Item = std::result::Result<T, E>> + Unpin,
) -> std::result::Result<Vec<T>, E> {
    use futures::{FutureExt, StreamExt};
    let mut out = Vec::new();
    loop {
        // Whatever is ready, without waiting (a no-op waker: the connection wakes nobody).
        while let Some(next) = rows.next().now_or_never() {
            match next {
                Some(row) => out.push(row?),
                None => return Ok(out),
            }
        }
        if out.len() < BURST_AFTER {
            match rows.next().await {
                Some(row) => out.push(row?),
                None => return Ok(out),
            }
        } else {
            tokio::time::sleep(BURST_PAUSE).await;
        }
    }
}

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
                // 4 MiB of page cache per connection (SQLite's default is 2 MiB). It was 64 MiB,
                // then 16: the caches fill on a large store (every run walks the waiting orders
                // of a stage) and `bench scale` at 100,000 orders peaked at 176 MiB with 16 MiB,
                // 149 MiB with 4 and 148 MiB with 2, while the zero-latency CPU did not move
                // beyond its noise (the pages come from the OS's cache). A batch's write may
                // spill pages to the WAL before its commit, which SQLite handles.
                // No memory map: each connection maps the file on its own and every mapped page
                // counts in the process's RSS once per connection (`bench scale`: 134 MiB of
                // file pages at 10,000 orders with 64 MiB maps); the map saved a few tenths of
                // a second of CPU in the zero-latency bench, the memory comes first.
                .page_size(PAGE_SIZE)
                .pragma("cache_size", "-4096")
                .pragma("temp_store", "memory")
                .pragma("mmap_size", "0")
                .pragma("wal_autocheckpoint", "10000")
                .row_buffer_size(ROW_BUFFER);
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

fn wh_to(w: &WarehouseQty) -> String {
    serde_json::to_string(w).unwrap_or_else(|_| "{}".into())
}

fn wh_from(table: &'static str, text: &str) -> Result<WarehouseQty> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> BackendKind {
        match self.pool {
            Pool::Sqlite(_) => BackendKind::Sqlite,
            Pool::Postgres(_) => BackendKind::Postgres,
        }
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

    async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        let Pool::Sqlite(p) = &self.pool else {
            return Err(StoreError::NotAllowed(
                "a PostgreSQL store is backed up with pg_dump (pg_dump -Fc -f FILE URL), not by this command".into(),
            ));
        };
        let Some(target) = path.to_str() else {
            return Err(StoreError::NotAllowed(format!(
                "the backup path {} is not valid UTF-8",
                path.display()
            )));
        };
        sqlx::query("VACUUM INTO ?").bind(target).execute(p).await?;
        Ok(())
    }
}

// After the macros above, which they use.
impl SqlStore {
    /// Clears the dirty marks of `pos`, unfenced (for `testing::clear_dirty` only).
    pub(crate) async fn clear_dirty(&self, pos: &[PoNumber]) -> Result<()> {
        with_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            for po in pos {
                sqlx::query("UPDATE orders SET dirty = 0 WHERE po = $1")
                    .bind(po.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

mod alerts;
mod batch;
mod config;
mod intents;
mod leases;
mod orders;
pub mod read;
mod reconcile;
mod runs;
mod stock;
#[cfg(test)]
mod tests;
