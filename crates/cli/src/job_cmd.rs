//! `job list|run`.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use domain::{JobName, PoNumber, RunOutcome, Trigger};
use engine::{RunOptions, RunReport, RunResult, Verdict};
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

/// `job run`: one run now, through the runner (refused while the job runs elsewhere). With
/// `--po`, the order must be at the stage the job decides (exit 2 otherwise) and the decision
/// for it is printed; a dry run prints the requests it would send.
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
    let lang = crate::startup::console_config(settings).language;
    let store = crate::startup::open_store(settings).await?;
    if let Some(po) = &only_po {
        match engine::ops_run::check_run_po(store.as_ref(), job, po).await {
            Ok(()) => {}
            Err(engine::ops_run::PoRefusal::Store(e)) => return Err(e.into()),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let engine = crate::startup::build_engine(store, settings)?;
    let (_stop_tx, stop_rx) = watch::channel(false);
    let opts = RunOptions {
        scheduled_for: None,
        only_po: only_po.clone(),
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
            report,
        } => {
            let dry = if report.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            };
            println!("run {run_id}: {outcome}{dry}");
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
            print_report(&report, job, only_po.as_ref(), lang);
            Ok(if outcome == RunOutcome::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The decisions (for one PO, or all) and the requests they carry, bodies pretty-printed.
fn print_report(report: &RunReport, job: JobName, po: Option<&PoNumber>, lang: domain::Lang) {
    let decisions: Vec<_> = report
        .decisions
        .iter()
        .filter(|d| po.is_none_or(|p| d.po == p.as_str()))
        .collect();
    if let Some(p) = po
        && decisions.is_empty()
    {
        if job == JobName::PullDscoOrders {
            println!("{p}: read from DSCO (stored when new or changed)");
        } else {
            println!("{p}: no decision (nothing to do for it in this run)");
        }
    }
    let mut shown = std::collections::BTreeSet::new();
    for d in decisions {
        println!("{}: {}", d.po, d.describe(report.dry_run, lang));
        if let Verdict::Write { request } = d.verdict
            && shown.insert(request)
            && let Some(r) = report.requests.get(request)
        {
            print_request(request, r);
        }
    }
    // Requests that name no order (stock updates), and in a dry run without --po every one.
    if po.is_none() {
        for (n, r) in report.requests.iter().enumerate() {
            if !shown.contains(&n) {
                print_request(n, r);
            }
        }
    }
    if report.left_out > 0 {
        println!("({} more decisions or requests not kept)", report.left_out);
    }
}

fn print_request(n: usize, r: &engine::PlannedRequest) {
    let state = if r.sent { "sent" } else { "not sent" };
    println!(
        "  request #{}: {} {} {} ({state}; {} order(s))",
        n + 1,
        r.far_side.as_str(),
        r.method,
        r.path,
        r.pos.len()
    );
    if let Some(why) = &r.refused {
        println!("  the client would refuse it: {why}");
    }
    for line in r.pretty_body().lines() {
        println!("    {line}");
    }
}
