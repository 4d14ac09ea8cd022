//! Persistence: the [`Store`] trait in domain types, implemented once in SQL for SQLite and
//! PostgreSQL (each backend with its own migrations under `migrations/<backend>/`). The backend
//! is chosen once at start-up from the URL scheme by [`connect`]; everything after works on
//! `Arc<dyn Store>`.
//!
//! # Layout
//! - this file: the traits, their records and errors. [`Store`] is the sum of role traits:
//!   [`LeaseStore`], [`RunStore`], [`ConfigStore`], [`OrderStore`], [`IntentStore`],
//!   [`StockStore`] and the console's [`ConsoleRead`]; [`prelude`] brings them into scope.
//! - `sql`: the implementation, one file per role (`sql/leases.rs`, `runs.rs`, `config.rs`,
//!   `orders.rs`, `intents.rs`, `stock.rs`, `read.rs`); `sql/mod.rs` holds what they share (the
//!   pool, backend dispatch, fence checks, error mapping, row decoding) and `sql/batch.rs` the
//!   set-based batch statements. The SQL is written once and compiled for both backends (the
//!   `with_pool!` macro), so the two cannot drift; the few differences (SQLite's `BEGIN
//!   IMMEDIATE`, its pragmas) live in `WritePool` and `SqlStore::connect`. The batch writes
//!   are set-based: their items go as the rows of a `VALUES`, one parameter per value, on
//!   SQLite, and as one JSON parameter unpacked by `jsonb_to_recordset` on PostgreSQL, so a
//!   batch of up to 500 items costs a few statements (`BatchSql`, `ItemSql`).
//! - `stock`: the records of the non-order jobs (sync_stock runs, items and per-SKU state;
//!   pull_sku_pair conflicts).
//!
//! # Invariants
//! - An order's `stage` is written only by [`OrderStore::cas_stage`] (compare-and-swap on the current
//!   stage), by the insert of a new order, and by [`OrderStore::force_stage`] (an operator, with a
//!   reason, audited).
//! - Every write made by a run passes its [`Fence`]; the write's transaction first bumps the
//!   job's lease row *where the token still matches*, so a run whose lease was taken over writes
//!   nothing ([`StoreError::Fenced`]). On SQLite that first write also takes the write lock, so a
//!   transaction never has to upgrade from read to write.
//! - Times are UTC, stored as Unix milliseconds.

mod legacy;
mod sql;
mod stock;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::lx_view::{LxView, LxViewPart};
use domain::order::RawJson;
use domain::{
    JobName, PoNumber, ReasonCode, ReasonKind, RunCounts, RunOutcome, RuntimeConfig, Stage, Trigger,
};
use serde_json::Value;

pub use legacy::{LegacyOrderRow, LegacySource, LegacyStockRow, StockLogCursor};
pub use sql::read::{
    CauseRow, ConsoleRead, OrderCursor, OrderFilter, OrderRow, StageSummary, StockItemCursor,
};
pub use sql::{SqlStore, redact_url};
pub use stock::*;

/// The store's traits, to bring into scope with one `use store::prelude::*` (their methods need
/// it only on a concrete type such as [`SqlStore`]; on `dyn Store` they are in scope already).
pub mod prelude {
    pub use crate::{
        AlertStore, ConfigStore, ConsoleRead, IntentStore, LeaseStore, OrderStore, ReconcileStore,
        RunStore, StockStore, Store,
    };
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the lease of {job} was taken over (fencing token {token} is stale): nothing was written"
    )]
    Fenced { job: JobName, token: i64 },
    #[error(
        "{what} changed since version {expected} was read (now {actual}): reload and try again"
    )]
    VersionConflict {
        what: &'static str,
        expected: i64,
        actual: i64,
    },
    #[error("unsupported store URL `{0}`: use sqlite://PATH or postgres://HOST/DB")]
    BadUrl(String),
    #[error("invalid value in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The database's disk (or its size limit) is full: writes fail until space is freed, then
    /// resume by themselves (a failed transaction leaves no connection behind in a bad state).
    #[error("the store's disk is full ({0}): free space; the service resumes by itself")]
    DiskFull(String),
    /// The database refuses writes (a read-only file, directory or server).
    #[error("the store is read-only ({0}): make the database writable and start again")]
    ReadOnly(String),
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    /// Classifies the database's answer: a full disk and a read-only database get errors of
    /// their own, which say what to do, so that the runner and `/readyz` can tell them apart.
    fn from(e: sqlx::Error) -> StoreError {
        match sql::space_problem(&e) {
            Some(p) => p.into(),
            None => StoreError::Db(e),
        }
    }
}

/// A condition of the store that stops every write until an operator fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreProblem {
    /// The disk (or the database's size limit) is full; the detail names the database's words.
    DiskFull(String),
    /// The database refuses writes.
    ReadOnly(String),
}

impl From<StoreProblem> for StoreError {
    fn from(p: StoreProblem) -> StoreError {
        match p {
            StoreProblem::DiskFull(d) => StoreError::DiskFull(d),
            StoreProblem::ReadOnly(d) => StoreError::ReadOnly(d),
        }
    }
}

impl StoreError {
    /// The store condition behind this error, if it is one that stops every write.
    pub fn problem(&self) -> Option<StoreProblem> {
        match self {
            StoreError::DiskFull(d) => Some(StoreProblem::DiskFull(d.clone())),
            StoreError::ReadOnly(d) => Some(StoreProblem::ReadOnly(d.clone())),
            _ => None,
        }
    }
}

/// Which database is behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Opens the store named by `url` (`sqlite://path` — the file is created if missing, WAL mode —
/// or `postgres://…`) and runs its migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::connect(url).await?))
}

/// The proof a run holds its job's lease: every write of the run carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub job: JobName,
    pub token: i64,
}

/// A job lease held by one runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job: JobName,
    pub token: i64,
    pub holder: String,
    pub run_id: String,
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    pub fn fence(&self) -> Fence {
        Fence {
            job: self.job,
            token: self.token,
        }
    }
}

/// Who holds a job's lease right now (if anyone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub job: JobName,
    pub holder: Option<String>,
    pub run_id: Option<String>,
    pub token: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    pub id: String,
    pub job: JobName,
    pub trigger: Trigger,
    /// The cron fire time this run answers (cron runs only).
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub holder: String,
    pub dry_run: bool,
    pub only_po: Option<String>,
    pub config_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: String,
    pub job: JobName,
    pub trigger: Trigger,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: RunOutcome,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub holder: String,
    pub lease_token: i64,
    pub dry_run: bool,
    pub only_po: Option<String>,
    pub config_version: Option<i64>,
}

/// A fire (or manual trigger) refused because the job was already running; one row per
/// blocking run, counting repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFire {
    pub job: JobName,
    pub blocking_run_id: String,
    pub trigger: Trigger,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub count: i64,
}

/// The latest runtime config and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConfig {
    pub version: i64,
    pub config: RuntimeConfig,
    pub actor: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkuSource {
    /// Set by an operator (or imported from a config without `pull_sku_pair`): never deleted by
    /// the pairs job, and wins over a pair for the same DSCO SKU.
    Manual,
    /// Written by `pull_sku_pair` from LingXing's pair list.
    Pair,
}

impl SkuSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SkuSource::Manual => "manual",
            SkuSource::Pair => "pair",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuEntry {
    pub dsco_sku: String,
    pub lingxing_sku: String,
    pub source: SkuSource,
}

/// `mapping.sku`, with the version every change bumps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuMap {
    pub version: i64,
    pub entries: Vec<SkuEntry>,
}

impl SkuMap {
    /// The entries of one source.
    pub fn entries_of(&self, source: SkuSource) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .filter(|e| e.source == source)
            .map(|e| (e.dsco_sku.clone(), e.lingxing_sku.clone()))
            .collect()
    }

    /// The map after [`ConfigStore::replace_sku_entries`] of `source` by `entries` (what an import
    /// would leave, to show before it writes).
    pub fn with_entries(&self, source: SkuSource, entries: &BTreeMap<String, String>) -> SkuMap {
        let mut out = SkuMap {
            version: self.version,
            entries: self
                .entries
                .iter()
                .filter(|e| e.source != source)
                .cloned()
                .collect(),
        };
        out.entries.extend(entries.iter().map(|(d, l)| SkuEntry {
            dsco_sku: d.clone(),
            lingxing_sku: l.clone(),
            source,
        }));
        out
    }

    /// The map after [`ConfigStore::set_manual_sku`] (`None`: the manual entry removed).
    pub fn with_manual(&self, dsco_sku: &str, lingxing_sku: Option<&str>) -> SkuMap {
        let mut manual = self.entries_of(SkuSource::Manual);
        match lingxing_sku {
            Some(l) => manual.insert(dsco_sku.to_owned(), l.to_owned()),
            None => manual.remove(dsco_sku),
        };
        self.with_entries(SkuSource::Manual, &manual)
    }

    /// The effective map: manual entries win over pairs.
    pub fn effective(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in self.entries.iter().filter(|e| e.source == SkuSource::Pair) {
            out.insert(e.dsco_sku.clone(), e.lingxing_sku.clone());
        }
        for e in self
            .entries
            .iter()
            .filter(|e| e.source == SkuSource::Manual)
        {
            out.insert(e.dsco_sku.clone(), e.lingxing_sku.clone());
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub detail: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// An order as DSCO shows it, from a pull. Everything a pull may refresh; nothing a later stage
/// wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledOrder {
    pub po: PoNumber,
    pub dsco_order_id: Option<String>,
    pub retailer_id: Option<String>,
    pub dsco_status: Option<String>,
    pub dsco_lifecycle: Option<String>,
    pub dsco_created_at: Option<DateTime<Utc>>,
    pub dsco_updated_at: Option<DateTime<Utc>>,
    pub warehouse_code: Option<String>,
    pub service_level: Option<String>,
    /// `sku(quantity)` per line, comma-joined, for filtering.
    pub skus: String,
    /// DSCO's order as DSCO sent it.
    pub payload: RawJson,
}

/// The latest reason an order did not move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderReason {
    pub code: ReasonCode,
    pub kind: ReasonKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub pulled: PulledOrder,
    pub stage: Stage,
    pub store_id: Option<String>,
    pub lingxing_order_nos: Vec<String>,
    pub tracking: Vec<String>,
    pub invoice_id: Option<String>,
    pub flags: Vec<String>,
    pub reason: Option<OrderReason>,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub stage_entered_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many times the order was marked for a decision so far (see
    /// [`OrderStore::remark_changed`]).
    pub marks: i64,
    /// When an operator took the order out of needs attention (see [`OrderAct::Ignore`]); a
    /// move to another stage ends it (the ignored reason belonged to the stage left).
    pub ignored_at: Option<DateTime<Utc>>,
}

/// An operator's action on orders (issue 16), applied by [`OrderStore::act_on_orders`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAct {
    /// Decide again at the next run of the stage's job: marked, due now, back-off reset.
    Retry,
    /// Out of needs attention (the overview's counts and causes), stage unchanged.
    Ignore,
    /// Back into needs attention.
    Unignore,
}

impl OrderAct {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderAct::Retry => "retry",
            OrderAct::Ignore => "ignore",
            OrderAct::Unignore => "unignore",
        }
    }
}

/// What happened to an order, as the timeline shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventOutcome {
    /// First seen by a pull.
    Pulled,
    /// Moved to a later stage.
    Advanced,
    /// Looked at and left where it is, with a reason.
    Skipped,
    /// An external write was submitted (its confirmation may follow).
    Submitted,
    /// Information worth keeping (fallback used, DSCO data refreshed, …).
    Noted,
    /// An operator acted on it.
    Operator,
    /// What a dry run decided (advance, write, skip), recorded without changing the order.
    DryRun,
}

impl EventOutcome {
    pub const ALL: [EventOutcome; 7] = [
        EventOutcome::Pulled,
        EventOutcome::Advanced,
        EventOutcome::Skipped,
        EventOutcome::Submitted,
        EventOutcome::Noted,
        EventOutcome::Operator,
        EventOutcome::DryRun,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Pulled => "pulled",
            EventOutcome::Advanced => "advanced",
            EventOutcome::Skipped => "skipped",
            EventOutcome::Submitted => "submitted",
            EventOutcome::Noted => "noted",
            EventOutcome::Operator => "operator",
            EventOutcome::DryRun => "dry_run",
        }
    }
    pub fn parse(s: &str) -> Option<EventOutcome> {
        EventOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// One decision about an order. A skip identical to the order's previous event (same job,
/// outcome, reason and detail) only bumps that event's `count` and `last_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub po: PoNumber,
    pub at: DateTime<Utc>,
    pub job: Option<JobName>,
    pub run_id: Option<String>,
    pub actor: Option<String>,
    pub from_stage: Option<Stage>,
    pub to_stage: Option<Stage>,
    pub outcome: EventOutcome,
    pub reason_code: Option<ReasonCode>,
    pub reason_kind: Option<ReasonKind>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub id: i64,
    pub event: NewEvent,
    pub last_at: DateTime<Utc>,
    pub count: i64,
}

/// What a pull's upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// New order, inserted at this stage.
    Inserted(Stage),
    /// Known order, DSCO fields refreshed; its stage (unchanged) is this.
    Refreshed(Stage),
}

/// An external write the engine is about to make, or made: recorded before the call so that an
/// unclear outcome is verified on the far side before anything is sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub kind: IntentKind,
    /// What makes the write unique on the far side: the PO for creates, ACKs and invoices, the
    /// tracking number for shipments.
    pub key: String,
    pub po: PoNumber,
    pub state: IntentState,
    /// The request as built (JSON), for the order page and for a re-send.
    pub payload: Value,
    /// The far side's answer or error text.
    pub outcome: String,
    pub attempts: i64,
    pub run_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What LingXing shows for one order (see [`OrderStore::set_lingxing_views`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LingxingView {
    pub po: PoNumber,
    pub store_id: Option<String>,
    pub order_nos: Vec<String>,
    /// Kept as its JSON text (`LxView::to_json`), read back with `LxView::from_json`.
    pub snapshot: LxView,
    /// The part of the view `snapshot` brings: applied to the view as stored when the write
    /// lands ([`LxViewPart::onto`]), so jobs writing the same orders' views do not undo each
    /// other. With a part other than [`LxViewPart::Whole`], `order_nos` is not read: the order
    /// numbers follow the stored view's orders.
    pub part: LxViewPart,
}

/// A change of one intent's state (see [`IntentStore::update_intents`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentUpdate {
    pub key: String,
    pub state: IntentState,
    pub outcome: String,
}

/// One intent to record before a far-side call (see [`IntentStore::put_intents`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewIntent {
    pub key: String,
    pub po: PoNumber,
    pub payload: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntentKind {
    Create,
    Ack,
    Shipment,
    Invoice,
    /// Cancelling the LingXing orders of a PO DSCO cancelled after the push
    /// (`auto_cancel_in_lingxing`); keyed by PO.
    LingxingCancel,
}

impl IntentKind {
    pub const ALL: [IntentKind; 5] = [
        IntentKind::Create,
        IntentKind::Ack,
        IntentKind::Shipment,
        IntentKind::Invoice,
        IntentKind::LingxingCancel,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            IntentKind::Create => "create",
            IntentKind::Ack => "ack",
            IntentKind::Shipment => "shipment",
            IntentKind::Invoice => "invoice",
            IntentKind::LingxingCancel => "lingxing_cancel",
        }
    }
    pub fn parse(s: &str) -> Option<IntentKind> {
        IntentKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an external write stands (the domain's, kept here by name).
pub use domain::intent::IntentState;

/// A DSCO async request (202 + `requestId`) whose per-item outcomes are still to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DscoRequest {
    pub request_id: String,
    pub kind: IntentKind,
    /// The intent keys it carries.
    pub keys: Vec<String>,
    pub state: DscoRequestState,
    pub result: String,
    pub run_id: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub checked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DscoRequestState {
    Pending,
    /// Every item has an outcome.
    Done,
}

impl DscoRequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            DscoRequestState::Pending => "pending",
            DscoRequestState::Done => "done",
        }
    }
}

/// Job leases: who runs a job now, with the fencing token every write of the run carries.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the job's lease if it is free or expired; `None` if someone else holds it. A
    /// takeover increments the fencing token, which makes the previous holder's writes fail.
    async fn try_acquire_lease(
        &self,
        job: JobName,
        holder: &str,
        run_id: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<Lease>>;
    /// Extends the lease; `false` if it was taken over.
    async fn renew_lease(&self, lease: &Lease, now: DateTime<Utc>, ttl: Duration) -> Result<bool>;
    /// Frees the lease if still held with this token.
    async fn release_lease(&self, lease: &Lease) -> Result<()>;
    async fn lease_info(&self, job: JobName) -> Result<Option<LeaseInfo>>;
}

/// Job runs: their records, refused fires, failure kinds and per-run details.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait RunStore: Send + Sync {
    async fn insert_run(&self, run: &NewRun, fence: &Fence) -> Result<()>;
    /// Closes a run record. Not fenced: a run that lost its lease must still say so.
    async fn finish_run(
        &self,
        run_id: &str,
        outcome: RunOutcome,
        counts: &RunCounts,
        error: Option<&str>,
        ended_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Records a fire refused because `blocking_run_id` was running; once per blocking run
    /// (repeats count). Returns true when this was the first for that run.
    async fn record_rejected_fire(
        &self,
        job: JobName,
        blocking_run_id: &str,
        trigger: Trigger,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn get_run(&self, run_id: &str) -> Result<Option<RunRecord>>;
    /// Most recent first.
    async fn list_runs(&self, job: Option<JobName>, limit: u32) -> Result<Vec<RunRecord>>;
    async fn rejected_fires(&self, job: Option<JobName>) -> Result<Vec<RejectedFire>>;
    /// The latest cron fire time any run of this job answered (for coalescing missed fires).
    async fn last_scheduled_fire(&self, job: JobName) -> Result<Option<DateTime<Utc>>>;
    /// Runs still marked running whose lease is gone or expired (a crashed process): closed as
    /// failed, the error naming the runner and its last heartbeat. Cheap when there are none (an
    /// index read), so the scheduler calls it continuously, not only at start.
    async fn close_orphan_runs(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Records the kind of failure a run met (e.g. `auth_refused`), for readiness. Not fenced,
    /// like [`RunStore::finish_run`].
    async fn set_run_failure(&self, run_id: &str, failure: &str) -> Result<()>;
    /// The failure kinds recorded with the job's last `limit` runs, by run id (runs without one
    /// are left out).
    async fn run_failures(&self, job: JobName, limit: u32) -> Result<BTreeMap<String, String>>;
    /// What a run did beyond its counts (JSON), for the job's run page.
    async fn set_run_detail(
        &self,
        run_id: &str,
        job: JobName,
        detail: &Value,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()>;
    async fn run_detail(&self, run_id: &str) -> Result<Option<Value>>;
}

/// Runtime config (versioned), `mapping.sku`, the audit log, cursors and the token cache.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait ConfigStore: Send + Sync {
    async fn runtime_config(&self) -> Result<Option<StoredConfig>>;
    async fn runtime_config_version(&self) -> Result<Option<i64>>;
    /// The latest `limit` versions, most recent first (`config history`).
    async fn runtime_config_history(&self, limit: u32) -> Result<Vec<StoredConfig>>;
    /// One version, as it was saved (`config diff`, `config rollback`).
    async fn runtime_config_at(&self, version: i64) -> Result<Option<StoredConfig>>;
    /// Saves a new version if the latest is still `expected` (`None`: no config yet). Audited.
    async fn save_runtime_config(
        &self,
        expected: Option<i64>,
        config: &RuntimeConfig,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64>;

    // --- mapping.sku ------------------------------------------------------------------------
    async fn sku_map(&self) -> Result<SkuMap>;
    /// Replaces every entry of `source` by `entries` if the map is still at `expected_version`.
    /// Audited. Returns the new version.
    async fn replace_sku_entries(
        &self,
        expected_version: i64,
        source: SkuSource,
        entries: &BTreeMap<String, String>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
        fence: Option<&Fence>,
    ) -> Result<i64>;
    /// Sets (or with `None` removes) one manual entry. Audited. Returns the new version.
    async fn set_manual_sku(
        &self,
        expected_version: i64,
        dsco_sku: &str,
        lingxing_sku: Option<&str>,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<i64>;

    // --- audit, cursors, token cache --------------------------------------------------------
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()>;
    /// Most recent first.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditRecord>>;
    async fn cursor(&self, name: &str) -> Result<Option<String>>;
    async fn set_cursor(
        &self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()>;
    async fn cache_get(&self, key: &str) -> Result<Option<String>>;
    async fn cache_put(&self, key: &str, value: &str, now: DateTime<Utc>) -> Result<()>;
}

/// Orders: pulled upserts, stages (compare-and-swap), events, decision marks, LingXing views,
/// tracking numbers, invoice ids, flags, and the DSCO orders the pull could not store.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Inserts each new order at its initial stage, or refreshes the DSCO fields of a known one
    /// (never its stage or anything a later stage wrote), for a page of orders in one fenced
    /// transaction; the results in the same order. A PO named twice is merged in sequence.
    async fn upsert_pulled_many(
        &self,
        orders: &[(PulledOrder, Stage)],
        run_id: Option<&str>,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Vec<Upserted>>;
    async fn get_order(&self, po: &PoNumber) -> Result<Option<OrderRecord>>;
    /// Moves `po` from `from` to `to` if it is still at `from` and the move is forward (or to
    /// cancelled); records the event; clears the reason. `false` if the order was not at `from`.
    async fn cas_stage(&self, event: &NewEvent, fence: &Fence) -> Result<bool>;
    /// [`OrderStore::cas_stage`] for many orders in one fenced transaction; per event whether it
    /// moved its order.
    async fn cas_stages(&self, events: &[NewEvent], fence: &Fence) -> Result<Vec<bool>>;
    /// Applies an operator's action to the orders among `pos` it applies to (retry: not final;
    /// ignore: not ignored yet; un-ignore: ignored), each with an operator event on its timeline
    /// (`detail`), and `audit` in the same transaction. Returns the POs acted on.
    async fn act_on_orders(
        &self,
        act: OrderAct,
        pos: &[PoNumber],
        actor: &str,
        detail: &str,
        now: DateTime<Utc>,
        audit: Option<&AuditEntry>,
    ) -> Result<Vec<PoNumber>>;
    /// An operator's move, with a reason, within the guard of
    /// [`domain::ops::force_guard`] (checked against the stored stage and reason in the same
    /// transaction; a refusal is [`StoreError::NotAllowed`] naming the rule); audited.
    async fn force_stage(
        &self,
        po: &PoNumber,
        to: Stage,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Stage>;
    /// Records a decision that did not move the order (skip, note, submission) and sets its
    /// latest reason and back-off. Identical repeated skips are folded into one event. A skip
    /// decided at a stage (`from_stage`) the order has left since lands nowhere: no event, and
    /// the reason of the order's new stage stays (a job that read the order before a concurrent
    /// pull cancelled it would otherwise explain a cancelled order with its own wait).
    async fn record_event(
        &self,
        event: &NewEvent,
        next_attempt_at: Option<DateTime<Utc>>,
        fence: Option<&Fence>,
    ) -> Result<()>;
    /// [`OrderStore::record_event`] for many events (each with its next attempt), in one fenced
    /// transaction, in order.
    async fn record_events(
        &self,
        events: &[(NewEvent, Option<DateTime<Utc>>)],
        fence: &Fence,
    ) -> Result<()>;
    /// Oldest first.
    async fn order_events(&self, po: &PoNumber) -> Result<Vec<OrderEvent>>;
    async fn count_by_stage(&self) -> Result<BTreeMap<Stage, i64>>;
    /// Orders that entered `stage` before `before` (oldest first): the stuck list of a stage.
    async fn entered_before(
        &self,
        stage: Stage,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<(i64, Vec<OrderRecord>)>;
    /// Orders at `stage` that need a decision: marked dirty (their DSCO payload, LingXing view
    /// or stage changed) or due by `next_attempt_at`. Oldest in the stage first. (A config
    /// change marks nothing: needs-attention and held orders are due at once.)
    async fn order_candidates(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>>;
    /// The PO numbers of [`order_candidates`](Self::order_candidates), in its order, without
    /// reading the orders: for a run that has most of them in hand already and looks for the
    /// ones it has not.
    async fn candidate_pos(
        &self,
        stage: Stage,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PoNumber>>;
    /// The known orders among `pos`.
    async fn orders_by_po(&self, pos: &[PoNumber]) -> Result<Vec<OrderRecord>>;
    /// The stage of each known order among `pos` (the order rows themselves are not read).
    async fn stages_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, Stage>>;
    /// DSCO's `dscoLastUpdate` as stored for each known order among `pos` (`None` when its
    /// payloads never carried one), in milliseconds since the epoch, as the store keeps it.
    async fn dsco_updated_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, Option<i64>>>;
    /// The stored DSCO payload of each known order among `pos` (nothing else of the orders).
    async fn payloads_of(&self, pos: &[PoNumber]) -> Result<BTreeMap<PoNumber, RawJson>>;
    /// Marks orders for a decision on the next run of the jobs that move them.
    async fn mark_dirty(&self, pos: &[PoNumber], fence: Option<&Fence>) -> Result<u64>;
    /// Marks again, after a job recorded its decisions on them, the orders among `seen` (each
    /// with the mark count its decision read, see [`OrderRecord::marks`]) that were marked since:
    /// a pull or a feed read that changed an order while a job was deciding it on the older data
    /// must not have its mark cleared by that decision. One statement per 500; returns the
    /// orders marked again.
    async fn remark_changed(
        &self,
        seen: &[(PoNumber, i64)],
        fence: &Fence,
    ) -> Result<Vec<PoNumber>>;
    /// Stores what LingXing shows for orders (the view and their LingXing order numbers; a
    /// missing store id keeps the one stored) in one fenced transaction, and marks an order
    /// dirty when its view changed; per item whether it changed (an unknown PO stores nothing).
    async fn set_lingxing_views(
        &self,
        views: &[LingxingView],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Vec<bool>>;
    /// The LingXing views of many orders and when each was stored, one query per 500; orders
    /// not stored are absent, an order never given a view has the empty one.
    async fn lingxing_views(
        &self,
        pos: &[PoNumber],
    ) -> Result<BTreeMap<PoNumber, (LxView, Option<DateTime<Utc>>)>>;
    /// Adds tracking numbers to orders (de-duplicated, comma-joined) in one transaction (a few
    /// statements per 500).
    async fn add_trackings(&self, items: &[(PoNumber, Vec<String>)], fence: &Fence) -> Result<()>;
    /// Sets the invoice id of orders in one transaction (one statement per 500).
    async fn set_invoice_ids(&self, items: &[(PoNumber, String)], fence: &Fence) -> Result<()>;
    /// Adds a flag (e.g. `cancelled_after_push`) to the order.
    async fn add_flag(&self, po: &PoNumber, flag: &str, fence: Option<&Fence>) -> Result<()>;

    // --- data defects (issue 13): DSCO orders without a PO ------------------------------------
    /// Records orders the pull could not store (one row per `dsco_order_id`: a repeat updates
    /// `last_seen`, `seen`, the reason and the payload, and opens the row again if resolved).
    async fn record_unreadable_orders(
        &self,
        items: &[UnreadableOrder],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()>;
    /// Marks open rows of these `dsco_order_id`s resolved (the order was stored as an order);
    /// returns how many.
    async fn resolve_unreadable_orders(
        &self,
        dsco_order_ids: &[String],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<u64>;
    /// Unreadable orders, oldest first; only those not resolved when `open_only`.
    async fn unreadable_orders(
        &self,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<UnreadableOrderRecord>>;
}

/// Intents (external writes recorded before they are made) and DSCO async requests.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait IntentStore: Send + Sync {
    /// Sets the state and outcome of many intents of one kind, in one transaction (a key named
    /// twice: the updates in sequence; each submission or unclear outcome counts an attempt).
    async fn update_intents(
        &self,
        kind: IntentKind,
        updates: &[IntentUpdate],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()>;
    /// Records the intents of one far-side call before it is made, in one transaction: each
    /// new key as `pending`; with `restart`, a key already known (a re-send after a refusal or
    /// an unclear outcome) is set back to `pending` with an empty outcome.
    async fn put_intents(
        &self,
        kind: IntentKind,
        items: &[NewIntent],
        run_id: &str,
        now: DateTime<Utc>,
        fence: &Fence,
        restart: bool,
    ) -> Result<()>;
    /// The intents of many keys of one kind, one query per 500 keys; keys not recorded are
    /// absent.
    async fn intents(&self, kind: IntentKind, keys: &[String]) -> Result<BTreeMap<String, Intent>>;
    async fn intents_for(&self, po: &PoNumber) -> Result<Vec<Intent>>;
    /// Intents of `kind` whose outcome is still open (`pending` or `ambiguous`), oldest first: the
    /// writes a job has to try again or verify without an order to wake it.
    async fn open_intents(&self, kind: IntentKind, limit: u32) -> Result<Vec<Intent>>;
    /// [`IntentStore::intents_for`] for many orders, only the intents of `kinds`, one query per 500;
    /// orders without any are absent. Without their payloads (`Null`): the jobs decide on an
    /// intent's key, state and times, and the payload is read with the order's own intents.
    async fn intents_of(
        &self,
        pos: &[PoNumber],
        kinds: &[IntentKind],
    ) -> Result<BTreeMap<PoNumber, Vec<Intent>>>;
    /// The intents of `kind` still `submitted` in DSCO request `request_id` (their outcome),
    /// without their payloads (`Null`), as [`IntentStore::intents_of`].
    async fn request_intents(&self, kind: IntentKind, request_id: &str) -> Result<Vec<Intent>>;
    async fn insert_dsco_request(&self, req: &DscoRequest, fence: &Fence) -> Result<()>;
    async fn pending_dsco_requests(&self, kind: IntentKind) -> Result<Vec<DscoRequest>>;
    async fn finish_dsco_request(
        &self,
        request_id: &str,
        state: DscoRequestState,
        result: &str,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()>;
}

/// The non-order jobs: `sync_stock` state, runs and items; `pull_sku_pair` conflicts.
#[allow(clippy::too_many_arguments)]
#[async_trait]
pub trait StockStore: Send + Sync {
    /// The stock state of every DSCO SKU ever sent.
    async fn stock_state(&self) -> Result<BTreeMap<String, StockState>>;
    /// Records a run and its items in one transaction; the sent items become the SKUs' pending
    /// values (`sent` in [`StockState`]).
    async fn record_stock_run(
        &self,
        run: &StockRun,
        items: &[StockItem],
        fence: &Fence,
    ) -> Result<()>;
    /// Request ids that still have items awaiting DSCO's outcome.
    async fn pending_stock_requests(&self) -> Result<Vec<String>>;
    /// Records DSCO's outcome for items of `request_id`; a settling outcome makes the sent value
    /// the SKU's confirmed one.
    async fn settle_stock_items(
        &self,
        request_id: &str,
        outcomes: &[StockSettle],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<()>;
    /// Most recent first; `held_only` lists runs still held.
    async fn stock_runs(&self, held_only: bool, limit: u32) -> Result<Vec<StockRun>>;
    /// Releases every held run (audited); returns their ids.
    async fn release_stock_runs(
        &self,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>>;
    /// Uses up a release not yet used by a run: `Some(run id released)` when there was one.
    async fn take_stock_release(&self, fence: &Fence) -> Result<Option<String>>;
    /// Items of runs at or after `since`, oldest first (for the CSV export).
    async fn stock_items_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<StockItem>>;

    // --- pull_sku_pair -----------------------------------------------------------------------
    async fn record_sku_conflicts(&self, conflicts: &[SkuConflict], fence: &Fence) -> Result<()>;
    async fn sku_conflicts(&self, run_id: &str) -> Result<Vec<SkuConflict>>;

    // --- the predecessor's stock-sync log (`import legacy`) -----------------------------------
    /// Adds rows of the predecessor's stock-sync log in one fenced transaction; a row imported
    /// before (same [`LegacyStockRow::key`]) is left as it is. Returns how many were added.
    async fn import_legacy_stock(
        &self,
        rows: &[LegacyStockRow],
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<u64>;
    /// How many of these rows were imported already.
    async fn legacy_stock_known(&self, rows: &[LegacyStockRow]) -> Result<u64>;
}

/// One alert transition waiting in the outbox for a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub alert: domain::alert::Alert,
    pub created_at: DateTime<Utc>,
    /// Attempts made on this channel before this one.
    pub attempts: i64,
}

/// Where a delivery of an outbox row to a channel stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet delivered; retried at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up: the bot refused it, or the retries ran out (the answer says which).
    Failed,
    /// Not for this channel (its minimum severity or kinds); nothing was posted.
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Skipped => "skipped",
        }
    }
    pub fn parse(s: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
            DeliveryState::Skipped,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// An alert as stored: its last transition and when it opened / resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert: domain::alert::Alert,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// One delivery of an outbox row to a channel, for the console and `alert` commands.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub outbox_id: i64,
    pub alert_key: String,
    pub transition: domain::alert::Transition,
    pub channel: String,
    pub state: DeliveryState,
    pub attempts: i64,
    /// The bot's answer (or the transport error) of the last attempt.
    pub answer: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Alerts: their state per key, the outbox of transitions and the deliveries per channel.
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// The alerts open now, by key (the alert as last raised).
    async fn open_alerts(&self) -> Result<BTreeMap<String, domain::alert::Alert>>;
    /// Applies `transitions` in one transaction: an open only when the key is not open, a
    /// resolve only when it is; each one applied is written to the outbox. Returns those applied
    /// (another replica may have applied the rest already).
    async fn apply_alerts(
        &self,
        transitions: &[domain::alert::Alert],
        now: DateTime<Utc>,
    ) -> Result<Vec<domain::alert::Alert>>;
    /// Claims up to `limit` outbox rows written at or after `since` that `channel` has not
    /// delivered or given up on and whose retry is due, for `claim` (another replica skips them
    /// meanwhile), oldest first.
    async fn claim_outbox(
        &self,
        channel: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        claim: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>>;
    /// Records one attempt of `channel` on `outbox_id` and releases the claim.
    async fn record_delivery(
        &self,
        outbox_id: i64,
        channel: &str,
        state: DeliveryState,
        answer: &str,
        next_attempt_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The alerts, open first, then the most recently changed.
    async fn alert_list(&self, limit: u32) -> Result<Vec<AlertRecord>>;
    /// The most recent deliveries (of any channel), newest first.
    async fn recent_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>>;
}

/// A reconciliation finding as stored (see [`ReconcileStore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRecord {
    pub id: i64,
    /// The run (or `reconcile` command) that last found it.
    pub run_id: String,
    pub po: PoNumber,
    pub code: domain::reconcile::FindingCode,
    pub detail: String,
    /// When it was first found (while open).
    pub found_at: DateTime<Utc>,
    /// When a run last found it.
    pub seen_at: DateTime<Utc>,
    /// When a run that checked the PO no longer found it.
    pub resolved_at: Option<DateTime<Utc>>,
}

impl FindingRecord {
    pub fn kind(&self) -> domain::reconcile::FindingKind {
        self.code.kind()
    }
}

/// Reconciliation findings: one open row per (PO, code), resolved when a later check of the PO
/// no longer finds it. Not fenced: findings are observations, written by the `reconcile` job and
/// by the `reconcile` command alike, and a repeat of the same observation changes nothing.
#[async_trait]
pub trait ReconcileStore: Send + Sync {
    /// Records what `run_id` found for the POs it `checked`, in one transaction: a (PO, code)
    /// not open is opened; one still open gets the run, the detail and `seen_at`; an open
    /// finding of a checked PO that was not found again is resolved. Returns (opened, resolved).
    async fn record_findings(
        &self,
        run_id: &str,
        checked: &[PoNumber],
        found: &[(PoNumber, domain::reconcile::Finding)],
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)>;
    /// The open findings of one order, oldest first.
    async fn open_findings_of(&self, po: &PoNumber) -> Result<Vec<FindingRecord>>;
    /// Findings of `kind` (all kinds when `None`): open ones first (newest first), then, unless
    /// `open_only`, the most recently resolved.
    async fn findings(
        &self,
        kind: Option<domain::reconcile::FindingKind>,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<FindingRecord>>;
    /// Open findings counted per code.
    async fn open_finding_counts(&self) -> Result<BTreeMap<domain::reconcile::FindingCode, i64>>;
}

/// The persistence the engine, the console and the CLI need: the sum of the role traits
/// ([`LeaseStore`], [`RunStore`], [`ConfigStore`], [`OrderStore`], [`IntentStore`], [`StockStore`],
/// [`ConsoleRead`]), implemented once by [`SqlStore`]. A component that needs one role takes that
/// trait; `use store::prelude::*` brings them all into scope (needed only to call them on a concrete
/// type: on `dyn Store` and `S: Store` the supertraits' methods are in scope already).
/// (Several writes take the run's fence, its id and the time beside their own arguments.)
#[async_trait]
pub trait Store:
    LeaseStore
    + RunStore
    + ConfigStore
    + OrderStore
    + IntentStore
    + StockStore
    + ConsoleRead
    + AlertStore
    + ReconcileStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> BackendKind;
    /// Fails with [`StoreError::ReadOnly`] when the database refuses writes (it writes nothing).
    async fn check_writable(&self) -> Result<()>;
    /// SQLite: writes a consistent copy of the whole database to `path` (a new file), online
    /// (`VACUUM INTO`: one read transaction, the service keeps running and writing). PostgreSQL:
    /// [`StoreError::NotAllowed`] (use `pg_dump`).
    async fn backup_to(&self, path: &std::path::Path) -> Result<()>;
}

/// A DSCO order the pull could not store as an order (no usable `poNumber`).
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableOrder {
    /// DSCO's `dscoOrderId`, or `payload:<hash of the text>` when it has none either.
    pub dsco_order_id: String,
    /// Why (`po_missing`).
    pub reason_code: ReasonCode,
    pub detail: String,
    /// The order as DSCO sent it.
    pub payload: RawJson,
}

/// An [`UnreadableOrder`] as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableOrderRecord {
    pub order: UnreadableOrder,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many pulls read it.
    pub seen: i64,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Helpers for tests of this and other crates: a fresh, empty database per test, and the
/// one-item forms of the batch writes (nothing in production writes one item at a time).
pub mod testing {
    use chrono::{DateTime, Utc};
    use domain::lx_view::LxView;
    use domain::{PoNumber, Stage};
    use serde_json::Value;
    use sqlx::Connection;

    use crate::{
        Fence, Intent, IntentKind, IntentState, IntentStore, IntentUpdate, LingxingView, NewIntent,
        OrderStore, PulledOrder, Result, SqlStore, StoreError, Upserted,
    };

    /// [`OrderStore::upsert_pulled_many`] for one order.
    pub async fn upsert_pulled<S: OrderStore + ?Sized>(
        store: &S,
        order: &PulledOrder,
        initial_stage: Stage,
        run_id: Option<&str>,
        now: DateTime<Utc>,
        fence: &Fence,
    ) -> Result<Upserted> {
        let out = store
            .upsert_pulled_many(&[(order.clone(), initial_stage)], run_id, now, fence)
            .await?;
        Ok(out[0])
    }

    /// [`OrderStore::set_lingxing_views`] for one order (the view given as JSON); whether it
    /// changed.
    pub async fn set_lingxing_view<S: OrderStore + ?Sized>(
        store: &S,
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
            part: domain::lx_view::LxViewPart::Whole,
        };
        Ok(store.set_lingxing_views(&[one], now, fence).await?[0])
    }

    /// [`IntentStore::put_intents`] for one intent (a known key is left as it is); the intent
    /// as stored.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_intent<S: IntentStore + ?Sized>(
        store: &S,
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
        store
            .put_intents(kind, &[one], run_id, now, fence, false)
            .await?;
        intent(store, kind, key)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                table: "intents",
                detail: format!(
                    "{} {key} missing right after it was recorded",
                    kind.as_str()
                ),
            })
    }

    /// [`IntentStore::update_intents`] for one key.
    pub async fn update_intent<S: IntentStore + ?Sized>(
        store: &S,
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
        store.update_intents(kind, &[one], now, fence).await
    }

    /// [`IntentStore::intents`] for one key.
    pub async fn intent<S: IntentStore + ?Sized>(
        store: &S,
        kind: IntentKind,
        key: &str,
    ) -> Result<Option<Intent>> {
        Ok(store.intents(kind, &[key.to_owned()]).await?.remove(key))
    }

    /// Clears the dirty marks of `pos` in the store at `url`, as if a job had just decided them
    /// (a test's set-up; in production a recorded decision clears the mark).
    pub async fn clear_dirty(url: &str, pos: &[PoNumber]) -> Result<()> {
        SqlStore::connect(url).await?.clear_dirty(pos).await
    }

    /// The PostgreSQL server tests should use, from `TEST_DATABASE_URL`; `None` when unset.
    pub fn postgres_base_url() -> Option<String> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
    }

    /// Creates an empty database on the server of `base_url` and returns its URL. Panics when
    /// the server cannot be reached: a PostgreSQL test must never pass by skipping.
    pub async fn fresh_postgres_database(base_url: &str) -> String {
        let mut conn = sqlx::PgConnection::connect(base_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "TEST_DATABASE_URL is set but PostgreSQL at {} cannot be reached: {e}",
                    super::sql::redact_url(base_url)
                )
            });
        let name = format!("dl_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        match base_url.rfind('/') {
            Some(i) if base_url[..i].contains("://") && i > base_url.find("://").unwrap() + 2 => {
                let (head, tail) = base_url.split_at(i);
                let query = tail.find('?').map(|q| &tail[q..]).unwrap_or("");
                format!("{head}/{name}{query}")
            }
            _ => format!("{}/{name}", base_url.trim_end_matches('/')),
        }
    }
}
