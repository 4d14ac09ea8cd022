//! The runner: the only way a job starts.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use clock::Clock;
use domain::{JobName, PoNumber, RunCounts, RunOutcome, RuntimeConfig, Trigger};
use store::{Lease, NewRun, Store, StoreError};
use tokio::sync::watch;
use tracing::Instrument;

use crate::{AUTH_REFUSED, Engine, JobError, RunCtx, RunReport, failure_of, outcome_of};

/// How a run was asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The cron fire time this run answers (scheduler only).
    pub scheduled_for: Option<DateTime<Utc>>,
    pub only_po: Option<PoNumber>,
    /// Forces a dry run whatever the job's config says.
    pub dry_run: bool,
}

/// What became of a request to run a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunResult {
    /// The run happened and was recorded.
    Ran {
        run_id: String,
        outcome: RunOutcome,
        counts: RunCounts,
        error: Option<String>,
        /// The decisions per order and the requests sent (or, in a dry run, built).
        report: RunReport,
    },
    /// The job was already running (here or in another replica); the refusal was recorded
    /// against the blocking run.
    Rejected { blocking_run_id: Option<String> },
}

impl Engine {
    /// Runs `job` once: takes its lease (or records a rejected fire), snapshots the runtime
    /// config, opens the run record, runs the job under its timeout while a heartbeat keeps the
    /// lease, closes the record and frees the lease. `stop` ends the run early (shutdown).
    pub async fn run_job(
        &self,
        job: JobName,
        trigger: Trigger,
        opts: RunOptions,
        mut stop: watch::Receiver<bool>,
    ) -> Result<RunResult, StoreError> {
        let run_id = uuid::Uuid::new_v4().to_string();
        let now = self.clock.now();
        let acquired = self
            .store
            .try_acquire_lease(job, &self.holder, &run_id, now, self.settings.lease_ttl)
            .await;
        let Some(lease) = self.noting(acquired)? else {
            let info = self.store.lease_info(job).await?;
            let blocking = info.and_then(|i| i.run_id);
            if let Some(b) = &blocking
                && self
                    .store
                    .record_rejected_fire(job, b, trigger, now)
                    .await?
            {
                tracing::info!(%job, blocking_run = %b, %trigger, "fire rejected: the job is already running");
            }
            metrics::counter!("dl_job_fires_rejected_total", "job" => job.as_str()).increment(1);
            return Ok(RunResult::Rejected {
                blocking_run_id: blocking,
            });
        };

        let span = tracing::info_span!("run", run_id = %run_id, job = %job, trigger = %trigger);
        let result = self
            .run_leased(job, trigger, opts, &lease, &mut stop)
            .instrument(span)
            .await;
        let result = self.noting(result);
        // Free the lease whatever happened; a lost lease is simply not ours to free.
        if let Err(e) = self.store.release_lease(&lease).await {
            tracing::warn!(%job, error = %e, "could not release the lease; it will expire");
        }
        result
    }

    async fn run_leased(
        &self,
        job: JobName,
        trigger: Trigger,
        opts: RunOptions,
        lease: &Lease,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<RunResult, StoreError> {
        let started = self.clock.now();
        let stored = self.store.runtime_config().await?;
        let (config, version) = match stored {
            Some(s) => (s.config, Some(s.version)),
            None => (RuntimeConfig::default(), None),
        };
        let job_config = config.jobs.get(&job).cloned();
        let dry_run = opts.dry_run || job_config.as_ref().is_some_and(|j| j.dry_run());
        let timeout = job_config
            .as_ref()
            .map_or(std::time::Duration::from_secs(30 * 60), |j| j.timeout());
        self.store
            .insert_run(
                &NewRun {
                    id: lease.run_id.clone(),
                    job,
                    trigger,
                    scheduled_for: opts.scheduled_for,
                    started_at: started,
                    holder: self.holder.clone(),
                    dry_run,
                    only_po: opts.only_po.as_ref().map(|p| p.to_string()),
                    config_version: version,
                },
                &lease.fence(),
            )
            .await?;
        // At debug: an idle run (most runs of a fast cron) logs nothing at info; "run ended"
        // says what a run did.
        tracing::debug!(dry_run, config_version = version, "run started");

        let ctx = RunCtx {
            run_id: lease.run_id.clone(),
            job,
            trigger,
            fence: lease.fence(),
            config: Arc::new(config),
            config_version: version,
            job_config,
            dry_run,
            only_po: opts.only_po,
            store: self.store.clone(),
            clock: self.clock.clone(),
            counts: Mutex::new(RunCounts::default()),
            refused: Mutex::new(None),
            report: Mutex::new(crate::RunReport {
                dry_run,
                ..Default::default()
            }),
        };
        let handler = self
            .jobs
            .get(&job)
            .unwrap_or_else(|| {
                panic!("{job} is not registered with the engine (start-up registers every job)")
            })
            .clone();

        let (lost_tx, mut lost_rx) = watch::channel(None);
        // Aborted when the run ends, however it ends (a dropped run must not keep its lease
        // alive).
        let heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
            self.store.clone(),
            self.clock.clone(),
            lease.clone(),
            self.settings.heartbeat_every,
            self.settings.lease_ttl,
            lost_tx,
        )));

        // The failure kind the run records (refused credentials, a full or read-only store).
        let mut failure = None;
        let (outcome, error) = tokio::select! {
            r = self.clock.timeout(timeout, handler.run(&ctx)) => match r {
                Ok(Ok(())) => (RunOutcome::Succeeded, None),
                Ok(Err(e)) => {
                    if let JobError::Store(se) = &e {
                        self.note_store_error(se);
                    }
                    failure = failure_of(&e);
                    (outcome_of(&e), Some(e.to_string()))
                }
                Err(_) => (RunOutcome::TimedOut, Some(format!(
                    "the run exceeded its timeout of {} and was stopped (runtime_config.jobs.{job}.timeout)",
                    domain::job::format_duration(timeout)
                ))),
            },
            lost = lost_rx.wait_for(Option::is_some) => {
                match lost.ok().and_then(|l| l.clone()) {
                    Some(Lost::StoreFailing(e)) => (RunOutcome::Failed, Some(format!(
                        "the store refused the lease heartbeat until the lease expired ({e}); the run was stopped so that no other runner overlaps it"
                    ))),
                    _ => (RunOutcome::LeaseLost, Some(
                        "another runner took the lease over (this run's heartbeat was late); the run was stopped and its later writes refused".to_owned()
                    )),
                }
            }
            _ = stop.wait_for(|s| *s) => (RunOutcome::Cancelled, Some("stopped by shutdown".to_owned())),
        };
        drop(heartbeat);
        if failure.is_none()
            && ctx
                .refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
        {
            failure = Some(AUTH_REFUSED);
        }

        let counts = ctx.counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let report = std::mem::take(&mut *ctx.report.lock().unwrap_or_else(|p| p.into_inner()));
        // Kept for the runs an operator asked for (and dry runs): a scheduled run's decisions
        // are on the orders' timelines already, and keeping them per run would grow the store
        // with every fire.
        let asked = trigger != Trigger::Cron || report.dry_run;
        if asked && (!report.decisions.is_empty() || !report.requests.is_empty()) {
            self.store_report(&lease.run_id, job, &report, &lease.fence())
                .await;
        }
        // The run's error is stored and shown like a reason: the same safety net applies.
        let error = error.map(|e| crate::jobs::scrub(&e));
        let ended = self.clock.now();
        self.store
            .finish_run(&lease.run_id, outcome, &counts, error.as_deref(), ended)
            .await?;
        if let Some(f) = failure {
            self.store.set_run_failure(&lease.run_id, f).await?;
        }
        // Alerts from the state the run left (its record closed): one transaction with the
        // alert state and the outbox.
        self.evaluate_alerts().await;
        // A run whose writes all went through ends a full-disk or read-only condition.
        if outcome == RunOutcome::Succeeded {
            self.store_recovered();
            crate::metrics::last_success(job, ended);
        }
        let secs = (ended - started).num_milliseconds() as f64 / 1000.0;
        metrics::counter!("dl_job_runs_total", "job" => job.as_str(), "outcome" => outcome.as_str()).increment(1);
        metrics::histogram!("dl_job_run_seconds", "job" => job.as_str()).record(secs);
        // Numbers as numbers (JSON logs), not the counts' Debug text.
        macro_rules! ended {
            ($level:expr, $($extra:tt)*) => {
                tracing::event!(
                    $level,
                    outcome = outcome.as_str(),
                    processed = counts.processed,
                    advanced = counts.advanced,
                    skipped_waiting = counts.skipped_waiting,
                    skipped_attention = counts.skipped_attention,
                    skipped_retrying = counts.skipped_retrying,
                    skipped_held = counts.skipped_held,
                    failed = counts.failed,
                    secs,
                    dry_run,
                    $($extra)*
                )
            };
        }
        match outcome {
            RunOutcome::Succeeded if counts == domain::RunCounts::default() => {
                ended!(tracing::Level::DEBUG, "run ended: nothing to do")
            }
            RunOutcome::Succeeded => ended!(tracing::Level::INFO, "run ended"),
            _ => ended!(
                tracing::Level::WARN,
                error = error.as_deref().unwrap_or(""),
                "run ended"
            ),
        }
        Ok(RunResult::Ran {
            run_id: lease.run_id.clone(),
            outcome,
            counts,
            error,
            report,
        })
    }

    /// Keeps the report as the run's detail (next to a detail the job stored itself). A failure
    /// only costs the run page its report: it is logged, not fatal.
    async fn store_report(
        &self,
        run_id: &str,
        job: JobName,
        report: &RunReport,
        fence: &store::Fence,
    ) {
        let mut detail = match self.store.run_detail(run_id).await {
            Ok(Some(serde_json::Value::Object(m))) => m,
            _ => serde_json::Map::new(),
        };
        match serde_json::to_value(report) {
            Ok(v) => {
                detail.insert("report".into(), v);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the run's report could not be encoded");
                return;
            }
        }
        let now = self.clock.now();
        if let Err(e) = self
            .store
            .set_run_detail(run_id, job, &serde_json::Value::Object(detail), now, fence)
            .await
        {
            tracing::warn!(error = %e, "the run's report could not be stored");
        }
    }

    /// Passes `r` on, remembering the store condition (full disk, read-only) behind its error.
    fn noting<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r {
            self.note_store_error(e);
        }
        r
    }
}

/// Why a run's heartbeat gave up.
#[derive(Debug, Clone)]
enum Lost {
    /// The lease's token moved on: another runner holds it.
    TakenOver,
    /// The store failed every renewal until the lease expired (the error of the last one).
    StoreFailing(String),
}

/// Renews the lease every `every`. A renewal the store fails is retried on the next beat while
/// the lease lives; once it has expired without a renewal the run stops (`StoreFailing`), as it
/// does when the lease was taken over: a store error is never reported as a takeover.
async fn heartbeat(
    store: Arc<dyn Store>,
    clock: Clock,
    lease: Lease,
    every: std::time::Duration,
    ttl: std::time::Duration,
    lost: watch::Sender<Option<Lost>>,
) {
    let mut expires = lease.expires_at;
    let mut failing: Option<String> = None;
    loop {
        clock.sleep(every).await;
        let now = clock.now();
        match store.renew_lease(&lease, now, ttl).await {
            Ok(true) => {
                if failing.take().is_some() {
                    tracing::info!("lease heartbeat renewed again");
                }
                expires = now + clock::to_delta(ttl);
            }
            Ok(false) => {
                let why = match failing {
                    // The lease expired while the store failed the heartbeats, and another
                    // runner took it then: the cause is the store.
                    Some(e) => Lost::StoreFailing(e),
                    None => Lost::TakenOver,
                };
                let _ = lost.send(Some(why));
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "lease heartbeat failed; retried on the next beat");
                if clock.now() >= expires {
                    let _ = lost.send(Some(Lost::StoreFailing(e.to_string())));
                    return;
                }
                failing = Some(e.to_string());
            }
        }
    }
}

/// Aborts the task when dropped: a run's heartbeat must not outlive the run, even when the run's
/// future is dropped before it ends (a task aborted, a caller that stopped waiting). Otherwise
/// the heartbeat would keep renewing the lease of a run nobody drives, and no other runner could
/// ever take the job over.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
