//! Overview `/`: orders per stage, counts by kind, needs attention by cause, the jobs.

use askama::Template;
use axum::response::Response;
use domain::{ReasonKind, RunCounts};

use super::fmt::{TimeCell, age, job_describe, kind_label, query_string, stage_label, time};
use super::layout::{Cx, Layout, render, store_error};
use crate::model::{Overview, reason_sentence};

struct Counter {
    class: String,
    count: i64,
    label: String,
    href: String,
}

struct StageCell {
    n: i64,
    label: &'static str,
    count: i64,
    oldest: Option<TimeCell>,
    age: String,
    href: String,
}

struct CauseView {
    code: String,
    subject: String,
    sentence: String,
    count: i64,
    href: String,
    /// The confirmation page of "retry all" for this cause.
    retry_href: String,
    /// The fix-the-cause form, when the cause is a missing mapping entry.
    fix_href: Option<String>,
    oldest: TimeCell,
    age: String,
}

struct LastRun {
    started: TimeCell,
    outcome: String,
    counts: String,
    href: String,
}

struct JobView {
    name: String,
    describe: &'static str,
    schedule: String,
    last: Option<LastRun>,
    next: Option<TimeCell>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    l: Layout,
    writes_enabled: bool,
    config_version: Option<i64>,
    in_sync: bool,
    counters: Vec<Counter>,
    stages: Vec<StageCell>,
    causes: Vec<CauseView>,
    jobs: Vec<JobView>,
}

fn counts_line(c: &RunCounts) -> String {
    format!(
        "{} / {} / {} / {}",
        c.processed,
        c.advanced,
        c.skipped(),
        c.failed
    )
}

pub(super) async fn overview(cx: Cx) -> Response {
    let l = cx.layout("overview", "overview.title");
    let now = cx.now;
    let o = match Overview::load(&*cx.store, now).await {
        Ok(o) => o,
        Err(e) => return store_error(l, e),
    };
    let (tr, lang, tz) = (cx.t, cx.lang(), cx.tz);
    let mut counters: Vec<Counter> = [
        ReasonKind::NeedsAttention,
        ReasonKind::Held,
        ReasonKind::Retrying,
    ]
    .into_iter()
    .map(|k| Counter {
        class: format!("k-{}", k.as_str()),
        count: o.kind_count(k),
        label: kind_label(&tr, k),
        href: format!("/orders?kind={}", k.as_str()),
    })
    .collect();
    // Stuck orders: the oldest of the stage with the most of them.
    let stuck_stage = o
        .stuck
        .iter()
        .filter(|s| s.count > 0)
        .max_by_key(|s| s.count);
    counters.push(Counter {
        class: "k-stuck".into(),
        count: o.stuck_total(),
        label: format!("{} ({})", tr.t("kind.stuck"), tr.t("overview.stuck_hint")),
        href: match stuck_stage {
            Some(s) => format!("/orders?stage={}", s.stage.number()),
            None => "/orders".into(),
        },
    });
    counters.push(Counter {
        class: "k-alerts".into(),
        count: o.open_alerts,
        label: tr.t("overview.open_alerts").to_owned(),
        href: "/alerts".into(),
    });
    if o.ignored > 0 {
        counters.push(Counter {
            class: "k-ignored".into(),
            count: o.ignored,
            label: tr.t("ops.ignored_badge").to_owned(),
            href: "/orders?ignored=only".into(),
        });
    }
    for c in &mut counters {
        if c.count == 0 {
            c.class.push_str(" zero");
        }
    }
    let stages = o
        .stages
        .iter()
        .map(|s| StageCell {
            n: s.stage.number(),
            label: stage_label(s.stage, lang),
            count: s.count,
            oldest: s.oldest_entered_at.map(|t| time(t, tz)),
            age: s
                .oldest_entered_at
                .map(|t| age(now - t, lang))
                .unwrap_or_default(),
            href: format!("/orders?stage={}", s.stage.number()),
        })
        .collect();
    let causes = o
        .causes
        .iter()
        .map(|c| CauseView {
            sentence: reason_sentence(&c.code, &c.subject, lang),
            retry_href: format!(
                "/orders/retry?{}",
                query_string(&[
                    ("kind", ReasonKind::NeedsAttention.as_str()),
                    ("code", &c.code),
                    ("subject", &c.subject),
                ])
            ),
            fix_href: None,
            href: format!(
                "/orders?{}",
                query_string(&[
                    ("kind", ReasonKind::NeedsAttention.as_str()),
                    ("code", &c.code),
                    ("subject", &c.subject),
                ])
            ),
            code: c.code.clone(),
            subject: c.subject.clone(),
            count: c.count,
            oldest: time(c.oldest_entered_at, tz),
            age: age(now - c.oldest_entered_at, lang),
        })
        .collect();
    let mut causes: Vec<CauseView> = causes;
    for (c, row) in causes.iter_mut().zip(&o.causes) {
        if let Ok(Some((m, k))) =
            engine::ops::fix_for_cause(&*cx.store, &row.code, &row.subject).await
        {
            c.fix_href = Some(format!(
                "/mappings/set?{}",
                query_string(&[("mapping", m), ("key", &k)])
            ));
        }
    }
    let jobs = o
        .jobs
        .iter()
        .map(|j| JobView {
            name: j.job.as_str().to_owned(),
            describe: job_describe(j.job, lang),
            schedule: match (&j.cron, j.enabled) {
                (None, _) => tr.t("job.not_configured").to_owned(),
                (Some(c), true) => c.clone(),
                (Some(c), false) => format!("{c} ({})", tr.t("job.disabled")),
            },
            last: j.last.as_ref().map(|r| LastRun {
                started: time(r.started_at, tz),
                outcome: r.outcome.to_string(),
                counts: counts_line(&r.counts),
                href: format!("/runs/{}", r.id),
            }),
            next: j.next_fire.map(|t| time(t, tz)),
        })
        .collect();
    render(OverviewPage {
        writes_enabled: o.writes_enabled,
        config_version: o.config_version,
        in_sync: o.in_sync(),
        counters,
        stages,
        causes,
        jobs,
        l,
    })
}
