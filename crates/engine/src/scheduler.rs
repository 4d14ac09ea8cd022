//! The scheduler: fires jobs on their cron (UTC) through the runner. A trigger only.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::{JobName, RuntimeConfig, Trigger};
use store::StoreError;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::{Engine, RunOptions};

/// The runtime config the scheduler currently fires by.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    version: Option<i64>,
    config: Arc<RuntimeConfig>,
}

/// One task per job, each sleeping until its next fire time on the engine's clock; a config
/// poller that hot-reloads the runtime config from the store.
pub struct Scheduler {
    engine: Arc<Engine>,
}

impl Scheduler {
    pub fn new(engine: Arc<Engine>) -> Scheduler {
        Scheduler { engine }
    }

    /// Runs until `shutdown` turns true, then waits up to the shutdown grace for running jobs
    /// (which then stop, record their outcome and free their leases).
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), StoreError> {
        let engine = self.engine;
        let closed = engine.store.close_orphan_runs(engine.clock.now()).await?;
        log_orphans(closed);
        let first = load(&engine).await?;
        if first.version.is_none() {
            tracing::warn!(
                "no runtime config in the store yet: no job is scheduled until one is imported (`dsco-lingxing config import FILE`)"
            );
        } else {
            warn_about(&first);
        }
        let (cfg_tx, cfg_rx) = watch::channel(first);

        let mut tasks = JoinSet::new();
        {
            let engine = engine.clone();
            let mut shutdown = shutdown.clone();
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = engine.clock.sleep(engine.settings.config_poll_every) => {}
                        _ = shutdown.wait_for(|s| *s) => return,
                    }
                    // Runs whose runner died (killed, crashed) within the lease time of this
                    // start are closed once their lease expires, not left running for the life
                    // of this process.
                    close_orphans(&engine).await;
                    let current = cfg_tx.borrow().version;
                    match engine.store.runtime_config_version().await {
                        Ok(v) if v != current => match load(&engine).await {
                            Ok(snap) => {
                                tracing::info!(version = snap.version, "runtime config changed; schedules reloaded");
                                warn_about(&snap);
                                cfg_tx.send_replace(snap);
                            }
                            Err(e) => tracing::error!(error = %e, "could not load the new runtime config; keeping the running one"),
                        },
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "could not check the runtime config version"),
                    }
                }
            });
        }
        for job in engine.registered() {
            tasks.spawn(job_loop(
                engine.clone(),
                job,
                cfg_rx.clone(),
                shutdown.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

fn log_orphans(closed: u64) {
    if closed > 0 {
        tracing::warn!(
            closed,
            "closed runs left open by a runner that died mid-run (its lease expired)"
        );
    }
}

async fn close_orphans(engine: &Engine) {
    match engine.store.close_orphan_runs(engine.clock.now()).await {
        Ok(closed) => log_orphans(closed),
        Err(e) => {
            engine.note_store_error(&e);
            tracing::warn!(error = %e, "could not close the runs of dead runners; trying again");
        }
    }
}

/// What an operator must know about the config the scheduler fires by: writes switched off,
/// settings that are accepted but do nothing.
fn warn_about(snap: &Snapshot) {
    if !snap.config.writes_enabled() {
        tracing::warn!(
            version = snap.version,
            "writes to DSCO and LingXing are disabled (writes_enabled = false): orders are decided and held, nothing is sent"
        );
    }
    for (key, why) in snap.config.inert_settings() {
        tracing::warn!(
            version = snap.version,
            setting = %key,
            "runtime_config.{key} has no effect: {why}"
        );
    }
}

async fn load(engine: &Engine) -> Result<Snapshot, StoreError> {
    Ok(match engine.store.runtime_config().await? {
        Some(s) => Snapshot {
            version: Some(s.version),
            config: Arc::new(s.config),
        },
        None => Snapshot::default(),
    })
}

async fn job_loop(
    engine: Arc<Engine>,
    job: JobName,
    mut cfg: watch::Receiver<Snapshot>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut runs = JoinSet::new();
    let fire = |runs: &mut JoinSet<()>, at: Option<DateTime<Utc>>| {
        let engine = engine.clone();
        let stop = stop_rx.clone();
        runs.spawn(async move {
            let opts = RunOptions {
                scheduled_for: at,
                ..RunOptions::default()
            };
            if let Err(e) = engine.run_job(job, Trigger::Cron, opts, stop).await {
                tracing::error!(%job, error = %e, "the run could not be started or recorded");
            }
        });
    };

    // Fires missed while the service was down coalesce into one run now.
    let snap = cfg.borrow_and_update().clone();
    if let Some(jc) = snap.config.jobs.get(&job).filter(|j| j.enable) {
        let now = engine.clock.now();
        if let (Some(due), Ok(Some(last))) = (
            jc.schedule.last_at_or_before(now),
            engine.store.last_scheduled_fire(job).await,
        ) && last < due
        {
            tracing::info!(%job, missed_since = %last.to_rfc3339(), "fires were missed while the service was down: running once now");
            fire(&mut runs, Some(due));
        }
    }

    loop {
        let snap = cfg.borrow_and_update().clone();
        let next = snap
            .config
            .jobs
            .get(&job)
            .filter(|j| j.enable)
            .and_then(|j| j.schedule.next_after(engine.clock.now()));
        tokio::select! {
            _ = engine.clock.sleep_until(next.unwrap_or_default()), if next.is_some() => {
                fire(&mut runs, Some(next.expect("guarded")));
            }
            changed = cfg.changed() => {
                if changed.is_err() {
                    break;
                }
                // A config change may fix what held orders back (a mapping, a switch): the jobs
                // that move orders look again at once instead of at their next fire.
                let enabled = cfg.borrow().config.jobs.get(&job).is_some_and(|j| j.enable);
                if enabled && moves_orders(job) && snap.version.is_some() {
                    fire(&mut runs, None);
                }
            }
            Some(_) = runs.join_next(), if !runs.is_empty() => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }

    // Shutdown: let running jobs finish within the grace (real time: this is about the process,
    // not the business clock), then stop them; they record their outcome and free their leases.
    let grace = engine.settings.shutdown_grace;
    let drained =
        tokio::time::timeout(grace, async { while runs.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(%job, "stopping the running job: shutdown grace elapsed");
        let _ = stop_tx.send(true);
        while runs.join_next().await.is_some() {}
    }
}

fn moves_orders(job: JobName) -> bool {
    matches!(
        job,
        JobName::PushToLingxing | JobName::AckToDsco | JobName::ShipToDsco | JobName::InvoiceToDsco
    )
}

/// The next `n` fire times of every job (UTC), for `job list` and the console. Disabled or
/// unconfigured jobs get an empty list.
pub fn upcoming_fires(
    config: &RuntimeConfig,
    now: DateTime<Utc>,
    n: usize,
) -> Vec<(JobName, bool, Vec<DateTime<Utc>>)> {
    JobName::ALL
        .into_iter()
        .map(|job| match config.jobs.get(&job) {
            Some(j) => {
                let mut out = Vec::with_capacity(n);
                let mut t = now;
                while out.len() < n {
                    match j.schedule.next_after(t) {
                        Some(next) => {
                            out.push(next);
                            t = next;
                        }
                        None => break,
                    }
                }
                (job, j.enable, if j.enable { out } else { Vec::new() })
            }
            None => (job, false, Vec::new()),
        })
        .collect()
}
