//! `job list|runs|run`.

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
            (None, _) => view.t("not configured", "未配置").to_owned(),
            (Some(c), true) => format!("{}, cron `{c}` (UTC)", view.t("enabled", "已启用")),
            (Some(c), false) => format!("{}, cron `{c}` (UTC)", view.t("disabled", "已停用")),
        };
        println!("{job}  {state}\n  {}", view.t(en, zh));
        for f in fires {
            println!(
                "  {}: {}  |  {}",
                view.t("next", "下次"),
                f.format("%Y-%m-%d %H:%M:%S UTC"),
                view.at(f)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `job runs [JOB]`: recent runs, newest first: trigger, outcome, duration, counts, and the
/// orders skipped per reason code.
pub(crate) async fn runs(view: &ReadView, job: Option<JobName>, limit: u32) -> Result<ExitCode> {
    let store = &view.store;
    let runs = store.list_runs(job, limit).await?;
    if runs.is_empty() {
        println!("{}", view.t("no runs yet", "还没有运行记录"));
        return Ok(ExitCode::SUCCESS);
    }
    for r in &runs {
        let took = r
            .ended_at
            .map(|e| {
                format!(
                    " {:.1} s",
                    (e - r.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        let mut flags = Vec::new();
        if r.dry_run {
            flags.push("dry-run".to_owned());
        }
        if let Some(po) = &r.only_po {
            flags.push(format!("--po {po}"));
        }
        println!(
            "{}  {:<17} {:<10} {:<9}{took}  {}{}",
            view.at(r.started_at),
            r.job.as_str(),
            r.trigger.as_str(),
            r.outcome.as_str(),
            r.id,
            if flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", flags.join(", "))
            }
        );
        let c = &r.counts;
        println!(
            "    {} {}, {} {}, {} {} ({} {}, {} {}, {} {}, {} {}), {} {}",
            view.t("processed", "处理"),
            c.processed,
            view.t("advanced", "推进"),
            c.advanced,
            view.t("skipped", "跳过"),
            c.skipped(),
            view.kind_label(domain::ReasonKind::Waiting),
            c.skipped_waiting,
            view.kind_label(domain::ReasonKind::NeedsAttention),
            c.skipped_attention,
            view.kind_label(domain::ReasonKind::Retrying),
            c.skipped_retrying,
            view.kind_label(domain::ReasonKind::Held),
            c.skipped_held,
            view.t("failed", "失败"),
            c.failed
        );
        if c.skipped() > 0 {
            let mut by_code = std::collections::BTreeMap::<&'static str, u64>::new();
            for e in store.run_events(&r.id, 100_000).await? {
                if let Some(code) = e.event.reason_code {
                    *by_code.entry(code.as_str()).or_default() += 1;
                }
            }
            if !by_code.is_empty() {
                let mut by_code: Vec<_> = by_code.into_iter().collect();
                by_code.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
                println!(
                    "    {}: {}",
                    view.t("by reason", "按原因"),
                    by_code
                        .iter()
                        .map(|(c, n)| format!("{c} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        if let Some(e) = &r.error {
            println!("    {}: {e}", view.t("error", "错误"));
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
            let zh = lang == domain::Lang::Zh;
            let dry = match (report.dry_run, zh) {
                (false, _) => "",
                (true, true) => "（试运行：未写入任何数据）",
                (true, false) => " (dry run: nothing written)",
            };
            println!("run {run_id}: {outcome}{dry}");
            let c = &counts;
            if zh {
                println!(
                    "  处理 {}，推进 {}，跳过 {}（等待 {}，需处理 {}，重试中 {}，暂停 {}），失败 {}",
                    c.processed,
                    c.advanced,
                    c.skipped(),
                    c.skipped_waiting,
                    c.skipped_attention,
                    c.skipped_retrying,
                    c.skipped_held,
                    c.failed
                );
            } else {
                println!(
                    "  processed {}, advanced {}, skipped {} (waiting {}, needs attention {}, retrying {}, held {}), failed {}",
                    c.processed,
                    c.advanced,
                    c.skipped(),
                    c.skipped_waiting,
                    c.skipped_attention,
                    c.skipped_retrying,
                    c.skipped_held,
                    c.failed
                );
            }
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
