//! The eight jobs, the runner that alone starts them, and the scheduler that triggers the runner.
//!
//! # Layout
//! - this file: [`Engine`] (the shared context: store, clock, registered jobs, settings), the
//!   [`Job`] trait and the [`RunCtx`] a job runs with.
//! - `runner`: [`Engine::run_job`]: lease, run record, config snapshot, heartbeat, timeout,
//!   outcome. Only the runner starts a job; the scheduler, the console and the CLI are triggers.
//! - `scheduler`: one task per job firing on its cron (UTC), hot-reloading the runtime config,
//!   coalescing fires missed while the service was down.
//!
//! # Invariants
//! - A job never overlaps itself, in this process or another replica: every run holds the job's
//!   lease in the store, and every store write of the run carries the lease's fencing token.
//! - Jobs never call each other.

pub mod jobs;
mod runner;
mod scheduler;
pub mod stock;
pub mod token_cache;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use clock::Clock;
use domain::{JobConfig, JobName, PoNumber, RunCounts, RunOutcome, RuntimeConfig, Trigger};
use store::{Fence, Store, StoreError};

pub use runner::{RunOptions, RunResult};
pub use scheduler::{Scheduler, upcoming_fires};

/// Why a job stopped before handling its batch.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0} is not built yet: nothing was done")]
    NotImplemented(JobName),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Failed(String),
}

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
}

impl RunCtx {
    /// Updates the run's counts.
    pub fn count(&self, f: impl FnOnce(&mut RunCounts)) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c);
    }
    /// Items per run (`size`), with a default for a job run by hand without config.
    pub fn size(&self) -> u32 {
        self.job_config.as_ref().map_or(50, |j| j.size)
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
}

impl Engine {
    /// An engine with the eight job names registered as not yet built; [`Engine::register`]
    /// puts real jobs in their place.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        holder: impl Into<String>,
        settings: EngineSettings,
    ) -> Engine {
        let jobs = JobName::ALL
            .into_iter()
            .map(|j| (j, Arc::new(NotBuilt(j)) as Arc<dyn Job>))
            .collect();
        Engine {
            store,
            clock,
            holder: holder.into(),
            jobs,
            settings,
        }
    }

    pub fn register(&mut self, job: Arc<dyn Job>) {
        self.jobs.insert(job.name(), job);
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

/// A registered job that is not built yet: its run record says so and it does nothing.
struct NotBuilt(JobName);

#[async_trait]
impl Job for NotBuilt {
    fn name(&self) -> JobName {
        self.0
    }
    async fn run(&self, _ctx: &RunCtx) -> Result<(), JobError> {
        Err(JobError::NotImplemented(self.0))
    }
}

/// How a run's error maps to its recorded outcome.
fn outcome_of(err: &JobError) -> RunOutcome {
    match err {
        JobError::NotImplemented(_) => RunOutcome::NotImplemented,
        JobError::Store(StoreError::Fenced { .. }) => RunOutcome::LeaseLost,
        _ => RunOutcome::Failed,
    }
}
