//! Job runs `/runs` and one run `/runs/{id}`.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use chrono_tz::Tz;
use domain::{JobName, RunCounts};
use serde::Deserialize;
use store::RunRecord;

use super::fmt::{SelectOption, TimeCell, age, dash, po_href, time};
use super::layout::{Cx, Layout, error_page, render, store_error};
use super::order::{event_detail, event_title};
use crate::i18n::Lang;

struct RunView {
    href: String,
    job: &'static str,
    trigger: &'static str,
    outcome: String,
    started: TimeCell,
    duration: String,
    c: RunCounts,
}

fn run_view(r: &RunRecord, tz: Tz, lang: Lang) -> RunView {
    RunView {
        href: format!("/runs/{}", r.id),
        job: r.job.as_str(),
        trigger: r.trigger.as_str(),
        outcome: r.outcome.to_string(),
        started: time(r.started_at, tz),
        duration: r
            .ended_at
            .map(|e| {
                let ms = (e - r.started_at).num_milliseconds();
                if ms < 10_000 {
                    format!("{:.1} s", ms as f64 / 1000.0)
                } else {
                    age(e - r.started_at, lang)
                }
            })
            .unwrap_or_else(|| "…".into()),
        c: r.counts.clone(),
    }
}

struct RejectedView {
    job: &'static str,
    run: String,
    href: String,
    trigger: &'static str,
    at: TimeCell,
    count: i64,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    l: Layout,
    job_options: Vec<SelectOption>,
    runs: Vec<RunView>,
    rejected: Vec<RejectedView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RunsQuery {
    job: String,
}

pub(super) async fn runs(cx: Cx, Query(q): Query<RunsQuery>) -> Response {
    let l = cx.layout("runs", "runs.title");
    let (lang, tz) = (cx.lang(), cx.tz);
    let job = q.job.parse::<JobName>().ok();
    let (list, rejected) =
        match tokio::try_join!(cx.store.list_runs(job, 200), cx.store.rejected_fires(job)) {
            Ok(x) => x,
            Err(e) => return store_error(l, e),
        };
    render(RunsPage {
        job_options: JobName::ALL
            .into_iter()
            .map(|j| SelectOption {
                value: j.as_str().to_owned(),
                label: j.as_str().to_owned(),
                selected: Some(j) == job,
            })
            .collect(),
        runs: list.iter().map(|r| run_view(r, tz, lang)).collect(),
        rejected: rejected
            .iter()
            .rev()
            .take(50)
            .map(|x| RejectedView {
                job: x.job.as_str(),
                run: x.blocking_run_id.clone(),
                href: format!("/runs/{}", x.blocking_run_id),
                trigger: x.trigger.as_str(),
                at: time(x.last_at, tz),
                count: x.count,
            })
            .collect(),
        l,
    })
}

/// One decision of the run's report.
struct DecisionView {
    po: String,
    href: String,
    stage: i64,
    /// `advance`, `write` or `skip` (the badge's class).
    kind: &'static str,
    text: String,
    /// `#req-N` for a write.
    request: String,
}

/// One request of the run's report.
struct RequestView {
    n: usize,
    far_side: &'static str,
    method: String,
    path: String,
    body: String,
    sent: bool,
    orders: usize,
    refused: String,
}

struct ReportView {
    dry_run: bool,
    decisions: Vec<DecisionView>,
    requests: Vec<RequestView>,
    left_out: u64,
    /// Run it again for real (same job and PO), from a dry run.
    again_href: String,
}

fn report_view(r: &engine::RunReport, run: &RunRecord, lang: Lang) -> ReportView {
    use engine::Verdict;
    ReportView {
        dry_run: r.dry_run,
        decisions: r
            .decisions
            .iter()
            .map(|d| DecisionView {
                po: d.po.clone(),
                href: po_href(&d.po),
                stage: d.stage,
                kind: match d.verdict {
                    Verdict::Advance { .. } => "advance",
                    Verdict::Write { .. } => "write",
                    Verdict::Skip { .. } => "skip",
                },
                text: d.describe(r.dry_run, lang),
                request: match d.verdict {
                    Verdict::Write { request } => format!("#req-{}", request + 1),
                    _ => String::new(),
                },
            })
            .collect(),
        requests: r
            .requests
            .iter()
            .enumerate()
            .map(|(n, q)| RequestView {
                n: n + 1,
                far_side: q.far_side.as_str(),
                method: q.method.clone(),
                path: q.path.clone(),
                body: q.pretty_body(),
                sent: q.sent,
                orders: q.pos.len(),
                refused: q.refused.clone().unwrap_or_default(),
            })
            .collect(),
        left_out: r.left_out,
        again_href: format!(
            "/run?{}",
            super::fmt::query_string(&[
                ("job", run.job.as_str()),
                ("po", run.only_po.as_deref().unwrap_or("")),
                ("dry_run", "0"),
            ])
        ),
    }
}

struct RunEventView {
    at: TimeCell,
    po: String,
    href: String,
    title: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    l: Layout,
    id: String,
    r: RunView,
    skipped: u64,
    dry_run: bool,
    only_po: String,
    holder: String,
    config_version: String,
    error: String,
    detail: String,
    report: Option<ReportView>,
    events: Vec<RunEventView>,
}

pub(super) async fn run(cx: Cx, Path(id): Path<String>) -> Response {
    let l = cx.layout("runs", "run.title");
    let (tr, lang, tz) = (cx.t, cx.lang(), cx.tz);
    let found = tokio::try_join!(
        cx.store.get_run(&id),
        cx.store.run_detail(&id),
        cx.store.run_events(&id, 1000)
    );
    let (r, detail, events) = match found {
        Ok((Some(r), d, e)) => (r, d, e),
        Ok((None, ..)) => {
            return error_page(
                l,
                StatusCode::NOT_FOUND,
                "common.not_found",
                format!("run `{id}`"),
            );
        }
        Err(e) => return store_error(l, e),
    };
    render(RunPage {
        id: r.id.clone(),
        skipped: r.counts.skipped(),
        dry_run: r.dry_run,
        only_po: dash(r.only_po.as_deref()),
        holder: r.holder.clone(),
        config_version: r
            .config_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "–".into()),
        error: r.error.clone().unwrap_or_default(),
        report: detail
            .as_ref()
            .and_then(engine::RunReport::from_detail)
            .map(|rep| report_view(&rep, &r, lang)),
        // The report has its own section; the rest of the detail stays raw.
        detail: detail
            .map(|mut d| {
                if let Some(m) = d.as_object_mut() {
                    m.remove("report");
                }
                d
            })
            .filter(|d| d.as_object().is_none_or(|m| !m.is_empty()))
            .and_then(|d| serde_json::to_string_pretty(&d).ok())
            .unwrap_or_default(),
        events: events
            .iter()
            .map(|e| RunEventView {
                at: time(e.event.at, tz),
                po: e.event.po.as_str().to_owned(),
                href: po_href(e.event.po.as_str()),
                title: event_title(&tr, &e.event, lang),
                detail: event_detail(&e.event, lang),
            })
            .collect(),
        r: run_view(&r, tz, lang),
        l,
    })
}
