//! Action 5, "Run a job" (`/run`): pick a job, optionally one PO, optionally a dry run, say why;
//! the run goes through `engine::ops_run::run_for_operator` (the runner, the PO's stage check,
//! the audit log) and its result is the run's page, which shows the decisions per order and,
//! for a dry run, the exact requests.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{JobName, PoNumber, Trigger};
use engine::RunResult;
use engine::ops_run::{ManualRun, ManualRunError, run_for_operator};
use serde::Deserialize;

use super::Pages;
use super::fmt::SelectOption;
use super::layout::{Cx, Layout, render};
use super::session::Act;

#[derive(Template)]
#[template(path = "run_job.html")]
struct RunJobPage {
    l: Layout,
    jobs: Vec<SelectOption>,
    po: String,
    dry_run: bool,
    reason: String,
    /// Why the last attempt was refused (shown above the form).
    error: String,
    /// The actions need the engine: absent where only the pages are served.
    available: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RunJobQuery {
    job: String,
    po: String,
    /// `0`: the dry run unticked (the "run it for real" link of a dry run's page).
    dry_run: String,
}

fn job_options(selected: Option<JobName>) -> Vec<SelectOption> {
    JobName::ALL
        .into_iter()
        .map(|j| SelectOption {
            value: j.as_str().to_owned(),
            label: format!("{j} · {}", j.describe().0),
            selected: Some(j) == selected,
        })
        .collect()
}

fn page(
    cx: &Cx,
    p: &Pages,
    job: Option<JobName>,
    po: String,
    dry_run: bool,
    reason: String,
    error: String,
) -> RunJobPage {
    let mut jobs = job_options(job);
    if cx.lang() == domain::Lang::Zh {
        for (o, j) in jobs.iter_mut().zip(JobName::ALL) {
            o.label = format!("{j} · {}", j.describe().1);
        }
    }
    RunJobPage {
        l: cx.layout("runs", "runjob.title"),
        jobs,
        po,
        dry_run,
        reason,
        error,
        available: p.engine.is_some(),
    }
}

/// `GET /run[?job=…&po=…]`: the form, the dry run ticked (look first, then run for real)
/// unless `dry_run=0`.
pub(super) async fn form(cx: Cx, State(p): State<Pages>, Query(q): Query<RunJobQuery>) -> Response {
    let job = q.job.parse::<JobName>().ok();
    let dry_run = q.dry_run != "0";
    render(page(
        &cx,
        &p,
        job,
        q.po,
        dry_run,
        String::new(),
        String::new(),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RunJobForm {
    job: String,
    po: String,
    /// Present (any value) when ticked.
    dry_run: Option<String>,
    reason: String,
}

/// `POST /run`: runs the job and shows its run page; a refusal shows the form again with why.
pub(super) async fn submit(State(p): State<Pages>, act: Act<RunJobForm>) -> Response {
    let Act { cx, op, form } = act;
    let dry_run = form.dry_run.is_some();
    let again = |status: StatusCode, job: Option<JobName>, error: String| {
        let mut res = render(page(
            &cx,
            &p,
            job,
            form.po.clone(),
            dry_run,
            form.reason.clone(),
            error,
        ));
        *res.status_mut() = status;
        res
    };
    let Some(engine) = p.engine.clone() else {
        return again(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            cx.t.t("runjob.unavailable").to_owned(),
        );
    };
    let job = match form.job.parse::<JobName>() {
        Ok(j) => j,
        Err(e) => return again(StatusCode::BAD_REQUEST, None, format!("job: {e}")),
    };
    let po = match form.po.trim() {
        "" => None,
        t => match PoNumber::parse(t) {
            Ok(po) => Some(po),
            Err(e) => return again(StatusCode::BAD_REQUEST, Some(job), format!("PO: {e}")),
        },
    };
    let req = ManualRun {
        job,
        po,
        dry_run,
        actor: op.name.clone(),
        reason: form.reason.clone(),
    };
    match run_for_operator(&engine, &req, Trigger::Manual).await {
        Ok(RunResult::Ran { run_id, .. }) => {
            Redirect::to(&format!("/runs/{run_id}")).into_response()
        }
        Ok(RunResult::Rejected { blocking_run_id }) => again(
            StatusCode::CONFLICT,
            Some(job),
            format!(
                "{} ({})",
                cx.t.t("runjob.running"),
                blocking_run_id.as_deref().unwrap_or("?")
            ),
        ),
        Err(ManualRunError::Store(e)) => {
            again(StatusCode::SERVICE_UNAVAILABLE, Some(job), e.to_string())
        }
        Err(e) => again(StatusCode::UNPROCESSABLE_ENTITY, Some(job), e.to_string()),
    }
}
