//! `job list|run`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use domain::{JobName, PoNumber, RunOutcome, Trigger};
use engine::{RunOptions, RunResult};
use tokio::sync::watch;

use crate::settings::Settings;
use crate::view::ReadView;

/// `job list`.
pub(crate) async fn list(view: &ReadView) -> Result<ExitCode> {
    let store = &view.store;
    let config = store
        .runtime_config()
        .await?
        .map(|s| s.config)
        .unwrap_or_default();
    for (job, enabled, fires) in engine::upcoming_fires(&config, Utc::now(), 3) {
        let (en, zh) = job.describe();
        let cron = config
            .jobs
            .get(&job)
            .map(|j| j.schedule.as_str().to_owned());
        let state = match (&cron, enabled) {
            (None, _) => "not configured".to_owned(),
            (Some(c), true) => format!("enabled, cron `{c}` (UTC)"),
            (Some(c), false) => format!("disabled, cron `{c}` (UTC)"),
        };
        println!("{job}  {state}\n  {en} / {zh}");
        for f in fires {
            println!(
                "  next: {}  |  {}",
                f.format("%Y-%m-%d %H:%M:%S UTC"),
                view.at(f)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `job run`: one run now, through the runner (refused while the job runs elsewhere).
pub(crate) async fn run(
    settings: &Settings,
    job: &str,
    po: Option<String>,
    dry_run: bool,
) -> Result<ExitCode> {
    let job: JobName = match job.parse() {
        Ok(j) => j,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let only_po = match po.map(PoNumber::parse).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("--po: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = crate::startup::open_store(settings).await?;
    let engine = crate::startup::build_engine(store, settings)?;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let opts = RunOptions {
        scheduled_for: None,
        only_po,
        dry_run,
    };
    match engine.run_job(job, Trigger::Cli, opts, stop_rx).await? {
        RunResult::Rejected { blocking_run_id } => {
            eprintln!(
                "{job} is already running (run {}); this request was recorded as a rejected fire",
                blocking_run_id.as_deref().unwrap_or("unknown")
            );
            Ok(ExitCode::from(1))
        }
        RunResult::Ran {
            run_id,
            outcome,
            counts,
            error,
        } => {
            println!("run {run_id}: {outcome}");
            println!(
                "  processed {}, advanced {}, skipped {} (waiting {}, needs attention {}, retrying {}, held {}), failed {}",
                counts.processed,
                counts.advanced,
                counts.skipped(),
                counts.skipped_waiting,
                counts.skipped_attention,
                counts.skipped_retrying,
                counts.skipped_held,
                counts.failed
            );
            if let Some(e) = error {
                println!("  {e}");
            }
            Ok(if outcome == RunOutcome::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
