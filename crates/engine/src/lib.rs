//! The eight jobs, the runner that alone starts them, and the scheduler that triggers the runner.
//!
//! # Layout
//! - this file: [`Engine`] (the shared context: store, clock, registered jobs, settings), the
//!   [`Job`] trait and the [`RunCtx`] a job runs with.
//! - `runner`: [`Engine::run_job`]: lease, run record, config snapshot, heartbeat, timeout,
//!   outcome. Only the runner starts a job; the scheduler, the console and the CLI are triggers.
//! - `scheduler`: one task per job firing on its cron (UTC), hot-reloading the runtime config,
//!   coalescing fires missed while the service was down.
//! - [`legacy`]: `import legacy`, the Go service's orders (stage derived by `domain::legacy`, its
//!   sent writes recorded as confirmed intents) and stock-sync log into the store.
//! - [`ops`]: the operator actions (write switch, retry, ignore, force, fix a mapping, release
//!   the stock guard), one code path for the console and the CLI, each audited.
//! - [`startup`]: the one start-up path (store, clients, token cache, jobs, scheduler, server)
//!   that the service, the demo, the benchmarks and the tests share.
//!
//! # Invariants
//! - A job never overlaps itself, in this process or another replica: every run holds the job's
//!   lease in the store, and every store write of the run carries the lease's fencing token.
//! - Jobs never call each other.

pub mod alerts;
pub mod jobs;
pub mod legacy;
pub mod metrics;
pub mod online_check;
pub mod ops;
pub mod ops_config;
pub mod ops_run;
mod readiness;
pub mod reconcile;
pub mod report;
mod runner;
mod scheduler;
pub mod startup;
pub mod stock;
pub mod token_cache;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clock::Clock;
use domain::{JobConfig, JobName, PoNumber, RunCounts, RunOutcome, RuntimeConfig, Trigger};
use store::{Fence, Store, StoreError, StoreProblem};

pub use readiness::{Check, Readiness};
pub use report::{FarSide, OrderDecision, PlannedRequest, RunReport, Verdict};
pub use runner::{RunOptions, RunResult};
pub use scheduler::{Scheduler, upcoming_fires};

/// Why a job stopped before handling its batch.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Failed(String),
    /// A far side refused the credentials (recorded with the run as `auth_refused`).
    #[error("{0}")]
    CredentialsRefused(String),
}

impl JobError {
    /// A far-side failure that stops the run; `context` says what was being done. Refused
    /// credentials are told apart, so that the run records them and `/readyz` reports them.
    pub fn far(context: impl std::fmt::Display, e: &impl FarFailure) -> JobError {
        let text = format!("{context}: {e}");
        if e.credentials_refused() {
            JobError::CredentialsRefused(text)
        } else {
            JobError::Failed(text)
        }
    }
}

/// A failure of a far-side client, as the engine needs to classify it.
pub trait FarFailure: std::fmt::Display {
    /// Whether the far side refused the credentials (not a passing outage).
    fn credentials_refused(&self) -> bool;
}

impl FarFailure for dsco::DscoError {
    fn credentials_refused(&self) -> bool {
        matches!(self, dsco::DscoError::AuthExpired { .. })
    }
}

impl FarFailure for lingxing::LingxingError {
    /// Token trouble that a refresh did not cure, or the token endpoint refusing the app
    /// (2001001 app unknown, 2001002 wrong app secret: the client calls those a rejection).
    fn credentials_refused(&self) -> bool {
        use lingxing::LingxingError as E;
        match self {
            E::AuthExpired { .. } => true,
            E::Rejected { code, .. } => {
                code.is(lingxing::codes::APP_ID_UNKNOWN)
                    || code.is(lingxing::codes::APP_SECRET_WRONG)
            }
            _ => false,
        }
    }
}

/// The failure kind a run records when a far side refused the credentials.
pub const AUTH_REFUSED: &str = "auth_refused";
/// The failure kind a run records when the store's disk was full.
pub const STORE_FULL: &str = "store_full";
/// The failure kind a run records when the store refused writes.
pub const STORE_READ_ONLY: &str = "store_read_only";

/// One of the eight jobs.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    fn name(&self) -> JobName;
    /// Handles one batch. Counts go to `ctx.counts` as they happen, so a run stopped by its
    /// timeout still reports what it did.
    async fn run(&self, ctx: &RunCtx) -> Result<(), JobError>;
}

/// What a run sees: its identity and fence, one snapshot of the runtime config, the store and
/// the clock.
pub struct RunCtx {
    pub run_id: String,
    pub job: JobName,
    pub trigger: Trigger,
    pub fence: Fence,
    pub config: Arc<RuntimeConfig>,
    pub config_version: Option<i64>,
    /// This job's config (absent when the job is not configured and was run by hand).
    pub job_config: Option<JobConfig>,
    /// Decide and record, write nothing to DSCO or LingXing.
    pub dry_run: bool,
    /// Only this PO (a run for one order, from the CLI or the console).
    pub only_po: Option<PoNumber>,
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    pub counts: Mutex<RunCounts>,
    /// Refused credentials met on the way (an order skipped for it), recorded with the run.
    pub refused: Mutex<Option<String>>,
    /// What the run decided per order and the requests it sent (or, dry, would send).
    pub report: Mutex<RunReport>,
}

impl RunCtx {
    /// Updates the run's counts.
    pub fn count(&self, f: impl FnOnce(&mut RunCounts)) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c);
    }
    /// Notes a far-side failure the run met without stopping (its orders were skipped with a
    /// reason): refused credentials are recorded with the run, for `/readyz`.
    pub fn note_far(&self, e: &impl FarFailure) {
        if e.credentials_refused() {
            let mut r = self.refused.lock().unwrap_or_else(|p| p.into_inner());
            r.get_or_insert_with(|| e.to_string());
        }
    }
    /// Items per run (`size`), with a default for a job run by hand without config.
    pub fn size(&self) -> u32 {
        self.job_config.as_ref().map_or(50, |j| j.size)
    }
    /// Adds to the run's report.
    pub fn report(&self, f: impl FnOnce(&mut RunReport)) {
        let mut r = self.report.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r);
    }
    /// Whether writes to the far sides are allowed (global switch and dry run).
    pub fn writes_allowed(&self) -> bool {
        self.config.writes_enabled() && !self.dry_run
    }
}

/// Timing of leases, heartbeats and shutdown.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long a lease lives without a heartbeat (a crashed runner's job is free after this).
    pub lease_ttl: Duration,
    /// How often a running job renews its lease. Must be well under `lease_ttl`.
    pub heartbeat_every: Duration,
    /// How often the scheduler checks the store for a new runtime-config version.
    pub config_poll_every: Duration,
    /// On shutdown, how long running jobs may take to finish before they are stopped.
    pub shutdown_grace: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            lease_ttl: Duration::from_secs(60),
            heartbeat_every: Duration::from_secs(15),
            config_poll_every: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// The shared context of the runner and the scheduler.
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Clock,
    holder: String,
    jobs: BTreeMap<JobName, Arc<dyn Job>>,
    settings: EngineSettings,
    /// The last store condition that stopped writes (full disk, read-only) and when it was met;
    /// cleared by the next run whose writes all went through.
    store_problem: Mutex<Option<(StoreProblem, DateTime<Utc>)>>,
    /// When the alert conditions hold (failed runs in a row, the write switch off for long).
    alert_thresholds: Mutex<alerts::Thresholds>,
}

impl Engine {
    /// An engine with no job registered yet; [`Engine::register`] adds them (start-up registers
    /// all eight). The scheduler runs only registered jobs.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        holder: impl Into<String>,
        settings: EngineSettings,
    ) -> Engine {
        Engine {
            store,
            clock,
            holder: holder.into(),
            jobs: BTreeMap::new(),
            settings,
            store_problem: Mutex::new(None),
            alert_thresholds: Mutex::new(alerts::Thresholds::default()),
        }
    }

    /// When the alert conditions hold (default: 3 failed runs in a row, writes off for 1 hour).
    pub fn set_alert_thresholds(&self, th: alerts::Thresholds) {
        *self
            .alert_thresholds
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = th;
    }

    /// Evaluates the alert conditions and writes their transitions (after every run; the
    /// console and the CLI may call it too). A failure is logged: alerts never fail a run.
    pub async fn evaluate_alerts(&self) -> Vec<domain::alert::Alert> {
        let th = *self
            .alert_thresholds
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match alerts::evaluate(&*self.store, self.clock.now(), th).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "alerts could not be evaluated");
                Vec::new()
            }
        }
    }

    pub fn register(&mut self, job: Arc<dyn Job>) {
        self.jobs.insert(job.name(), job);
    }

    /// The jobs registered, in name order.
    pub fn registered(&self) -> Vec<JobName> {
        self.jobs.keys().copied().collect()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The store condition (full disk, read-only) the last writes met, if it has not cleared.
    pub fn store_problem(&self) -> Option<(StoreProblem, DateTime<Utc>)> {
        self.store_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Remembers the store condition behind `e`, if any.
    pub(crate) fn note_store_error(&self, e: &StoreError) {
        let Some(p) = e.problem() else { return };
        let mut cur = self.store_problem.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_none_or(|(c, _)| *c != p) {
            tracing::error!(error = %e, "the store stopped taking writes");
            *cur = Some((p, self.clock.now()));
        }
    }

    /// Writes went through again: the store condition is over.
    pub(crate) fn store_recovered(&self) {
        if let Some((p, since)) = self
            .store_problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            tracing::info!(
                problem = %StoreError::from(p),
                since = %since.to_rfc3339(),
                "the store takes writes again"
            );
        }
    }
}

/// A unique holder name for this process: host, pid and a random suffix.
pub fn default_holder() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// How a run's error maps to its recorded outcome. Only `Fenced` (the lease's token moved on:
/// another runner holds the lease) is a lost lease; any other store error, a full disk
/// included, is a failure of the run.
fn outcome_of(err: &JobError) -> RunOutcome {
    match err {
        JobError::Store(StoreError::Fenced { .. }) => RunOutcome::LeaseLost,
        _ => RunOutcome::Failed,
    }
}

/// The failure kind a run's error records (for readiness), if it is one readiness tells apart.
fn failure_of(err: &JobError) -> Option<&'static str> {
    match err {
        JobError::CredentialsRefused(_) => Some(AUTH_REFUSED),
        JobError::Store(e) => store_failure(e),
        _ => None,
    }
}

fn store_failure(e: &StoreError) -> Option<&'static str> {
    match e.problem()? {
        StoreProblem::DiskFull(_) => Some(STORE_FULL),
        StoreProblem::ReadOnly(_) => Some(STORE_READ_ONLY),
    }
}

/// Helpers for tests of this and other crates.
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// A job (under the given name) that writes a cursor larger than a database page: on a
    /// full disk its run fails.
    pub struct BigWrite(pub JobName);

    #[async_trait]
    impl Job for BigWrite {
        fn name(&self) -> JobName {
            self.0
        }
        async fn run(&self, ctx: &RunCtx) -> Result<(), JobError> {
            let big = ctx.run_id.repeat(3000);
            ctx.store
                .set_cursor("big", &big, ctx.clock.now(), &ctx.fence)
                .await?;
            Ok(())
        }
    }
}
