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
        detail: detail
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
