//! Action 7, editing the runtime config: `/config/edit` (per job: enable, cron with its next
//! fires, size, any setting; mapping entries; any key path), a preview that shows the diff
//! (`POST /config/edit`), then the save (`POST /config/save`); rollback to an earlier version
//! (`/config/rollback`, diff first). Validation, the compare-and-swap save and the audit entry
//! are `engine::ops_config`'s, shared with the CLI; a refused edit shows `config check`'s
//! messages and writes nothing.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::JobName;
use engine::ops_config::{self, ConfigOpError, ConfigPlan};
use serde::Deserialize;
use serde_json::Value;

use super::Pages;
use super::config::{DiffRow, diff_rows};
use super::fmt::{TimeCell, time};
use super::layout::{Cx, Layout, render, store_error};
use super::session::Act;

struct JobEdit {
    name: &'static str,
    describe: &'static str,
    configured: bool,
    enabled: bool,
    cron: String,
    size: String,
    settings: String,
    fires: Vec<TimeCell>,
    /// The other setting's key and value, as a refused form sent them.
    key: String,
    value: String,
}

#[derive(Template)]
#[template(path = "config_edit.html")]
struct EditPage {
    l: Layout,
    version: String,
    jobs: Vec<JobEdit>,
    error: String,
    /// The mapping and key-path forms, as a refused form sent them.
    m_kind: String,
    m_key: String,
    m_value: String,
    s_key: String,
    s_value: String,
}

struct FirePreview {
    path: String,
    fires: Vec<TimeCell>,
    error: String,
}

#[derive(Template)]
#[template(path = "config_confirm.html")]
struct ConfirmPage {
    l: Layout,
    what: String,
    from: String,
    diff: Vec<DiffRow>,
    fires: Vec<FirePreview>,
    /// Where the confirm form posts, and its hidden fields.
    action: &'static str,
    edits: String,
    version: String,
    from_version: String,
    error: String,
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

/// The edit page, with `error` (a refused edit) above the forms, and the refused form's entries
/// kept in its fields.
async fn edit_page(
    cx: &Cx,
    error: String,
    status: StatusCode,
    sent: Option<&EditForm>,
) -> Response {
    let l = cx.layout("config", "cfgedit.title");
    let stored = match cx.store.runtime_config().await {
        Ok(s) => s,
        Err(e) => return store_error(l, e),
    };
    let version = ops_config::version_name(stored.as_ref().map(|s| s.version));
    let config = stored.map(|s| s.config).unwrap_or_default();
    let v = config.to_value(&Default::default());
    let zh = cx.lang() == domain::Lang::Zh;
    let jobs = JobName::ALL
        .into_iter()
        .map(|job| {
            let j = config.jobs.get(&job);
            let cron = j
                .map(|j| j.schedule.as_str().to_owned())
                .unwrap_or_default();
            let fires = ops_config::next_fires(&cron, cx.now, 3)
                .unwrap_or_default()
                .into_iter()
                .map(|t| time(t, cx.tz))
                .collect();
            let settings = v["jobs"][job.as_str()]
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| !matches!(k.as_str(), "enable" | "cron" | "size"))
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let (en, zh_text) = job.describe();
            let mut e = JobEdit {
                name: job.as_str(),
                describe: if zh { zh_text } else { en },
                configured: j.is_some(),
                enabled: j.is_some_and(|j| j.enable),
                cron,
                size: j.map(|j| j.size.to_string()).unwrap_or_default(),
                settings,
                fires,
                key: String::new(),
                value: String::new(),
            };
            if let Some(f) = sent.filter(|f| f.kind == "job" && f.job == job.as_str()) {
                e.enabled = f.enable.is_some();
                e.cron = f.cron.clone();
                e.size = f.size.clone();
                e.key = f.key.clone();
                e.value = f.value.clone();
            }
            e
        })
        .collect();
    let of = |kind: &str, pick: fn(&EditForm) -> &String| {
        sent.filter(|f| f.kind == kind)
            .map(|f| pick(f).clone())
            .unwrap_or_default()
    };
    with_status(
        render(EditPage {
            l,
            version,
            jobs,
            error,
            m_kind: of("mapping", |f| &f.mapping),
            m_key: of("mapping", |f| &f.key),
            m_value: of("mapping", |f| &f.value),
            s_key: of("setting", |f| &f.key),
            s_value: of("setting", |f| &f.value),
        }),
        status,
    )
}

/// `GET /config/edit`.
pub(super) async fn form(cx: Cx) -> Response {
    edit_page(&cx, String::new(), StatusCode::OK, None).await
}

/// One of the edit page's forms: `kind` says which (`job`, `mapping`, `setting`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct EditForm {
    kind: String,
    job: String,
    /// Present when the job's box is ticked.
    enable: Option<String>,
    cron: String,
    size: String,
    mapping: String,
    key: String,
    value: String,
}

/// The key-path edits a form asks for (`config set`'s form: an empty value removes the key).
fn edits_of(f: &EditForm) -> Vec<(String, String)> {
    let value = |v: &str| {
        if v.trim().is_empty() {
            "null".to_owned()
        } else {
            v.trim().to_owned()
        }
    };
    let mut out = Vec::new();
    match f.kind.as_str() {
        "job" => {
            let at = format!("jobs.{}", f.job.trim());
            let on = if f.enable.is_some() { "true" } else { "false" };
            out.push((format!("{at}.enable"), on.to_owned()));
            if !f.cron.trim().is_empty() {
                out.push((format!("{at}.cron"), f.cron.trim().to_owned()));
            }
            if !f.size.trim().is_empty() {
                out.push((format!("{at}.size"), f.size.trim().to_owned()));
            }
            if !f.key.trim().is_empty() {
                out.push((format!("{at}.{}", f.key.trim()), value(&f.value)));
            }
        }
        "mapping" => out.push((
            format!("mapping.{}.{}", f.mapping.trim(), f.key.trim()),
            value(&f.value),
        )),
        _ => out.push((f.key.trim().to_owned(), value(&f.value))),
    }
    out
}

fn confirm_page(
    cx: &Cx,
    plan: &ConfigPlan,
    action: &'static str,
    edits: String,
    version: String,
    reason_error: String,
) -> Response {
    // The next fires of every cron the edit sets, so the operator sees when the job will run.
    let fires = plan
        .diff
        .changes
        .iter()
        .filter_map(|c| {
            let cron = match &c.new {
                Some(Value::String(s)) if c.path.ends_with(".cron") => s.clone(),
                Some(Value::Object(o)) if c.path.starts_with("runtime_config.jobs.") => {
                    o.get("cron")?.as_str()?.to_owned()
                }
                _ => return None,
            };
            let (fires, error) = match ops_config::next_fires(&cron, cx.now, 3) {
                Ok(f) => (
                    f.into_iter().map(|t| time(t, cx.tz)).collect(),
                    String::new(),
                ),
                Err(e) => (Vec::new(), e),
            };
            Some(FirePreview {
                path: format!("{} = {cron}", c.path),
                fires,
                error,
            })
        })
        .collect();
    let status = if reason_error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    with_status(
        render(ConfirmPage {
            l: cx.layout("config", "cfgedit.confirm_title"),
            what: plan.what.clone(),
            from: ops_config::version_name(plan.from_version),
            diff: diff_rows(&plan.diff),
            fires,
            action,
            edits,
            version,
            from_version: plan.from_version.map(|v| v.to_string()).unwrap_or_default(),
            error: reason_error,
        }),
        status,
    )
}

/// A refused plan or save: the edit page with the message (nothing was written).
async fn refused(cx: &Cx, e: ConfigOpError) -> Response {
    refused_form(cx, e, None).await
}

async fn refused_form(cx: &Cx, e: ConfigOpError, sent: Option<&EditForm>) -> Response {
    let status = match e {
        ConfigOpError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConfigOpError::Stale { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let text = format!("{} {e}", cx.t.t("cfgedit.refused"));
    edit_page(cx, text, status, sent).await
}

/// `POST /config/edit`: plans the edit; a bad one is refused with the key named, a good one is
/// shown as a diff to confirm. Nothing is written here.
pub(super) async fn preview(act: Act<EditForm>) -> Response {
    let Act { cx, form, .. } = act;
    let edits = edits_of(&form);
    match ops_config::plan_edits(cx.store.as_ref(), &edits).await {
        Ok(plan) => {
            let json = serde_json::to_string(&edits).unwrap_or_default();
            confirm_page(
                &cx,
                &plan,
                "/config/save",
                json,
                String::new(),
                String::new(),
            )
        }
        Err(e) => refused_form(&cx, e, Some(&form)).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SaveForm {
    /// The planned edits, as JSON `[[key, value], …]`.
    edits: String,
    /// The running version the diff was shown for (empty: none).
    from_version: String,
    /// For a rollback: the version to go back to.
    version: String,
    reason: String,
}

fn planned_on(f: &SaveForm) -> Option<i64> {
    f.from_version.trim().parse().ok()
}

async fn save(
    p: &Pages,
    cx: &Cx,
    op: &super::session::Operator,
    plan: ConfigPlan,
    form: &SaveForm,
    action: &'static str,
    reshow: impl Fn(&ConfigPlan, String) -> Response,
) -> Response {
    if plan.from_version != planned_on(form) {
        return refused(
            cx,
            ConfigOpError::Stale {
                planned: ops_config::version_name(planned_on(form)),
                running: ops_config::version_name(plan.from_version),
            },
        )
        .await;
    }
    let now = p.engine.as_ref().map_or(cx.now, |e| e.clock().now());
    let audit = if action == "/config/rollback" {
        "config.rollback"
    } else {
        "config.set"
    };
    match ops_config::save_plan(cx.store.as_ref(), &plan, &op.name, &form.reason, audit, now).await
    {
        Ok(v) => Redirect::to(&format!("/config?saved={v}")).into_response(),
        Err(ConfigOpError::NoReason) => reshow(&plan, ConfigOpError::NoReason.to_string()),
        Err(e) => refused(cx, e).await,
    }
}

/// `POST /config/save`: the confirmed edit, planned again on the running version (refused if
/// that moved since the diff was shown), saved as a new version with its audit entry.
pub(super) async fn save_edit(State(p): State<Pages>, act: Act<SaveForm>) -> Response {
    let Act { cx, op, form } = act;
    let edits: Vec<(String, String)> = match serde_json::from_str(&form.edits) {
        Ok(e) => e,
        Err(e) => {
            return refused(
                &cx,
                ConfigOpError::Invalid(domain::config::ConfigErrors::one("edits", e.to_string())),
            )
            .await;
        }
    };
    let plan = match ops_config::plan_edits(cx.store.as_ref(), &edits).await {
        Ok(p) => p,
        Err(e) => return refused(&cx, e).await,
    };
    let reshow = |plan: &ConfigPlan, err: String| {
        confirm_page(
            &cx,
            plan,
            "/config/save",
            form.edits.clone(),
            String::new(),
            err,
        )
    };
    save(&p, &cx, &op, plan, &form, "/config/save", reshow).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RollbackQuery {
    version: i64,
}

/// `GET /config/rollback?version=N`: what going back to vN changes, to confirm.
pub(super) async fn rollback_preview(cx: Cx, Query(q): Query<RollbackQuery>) -> Response {
    match ops_config::plan_rollback(cx.store.as_ref(), q.version).await {
        Ok(plan) => confirm_page(
            &cx,
            &plan,
            "/config/rollback",
            String::new(),
            q.version.to_string(),
            String::new(),
        ),
        Err(e) => refused(&cx, e).await,
    }
}

/// `POST /config/rollback`: saves a new version equal to vN (history is never rewritten).
pub(super) async fn rollback_save(State(p): State<Pages>, act: Act<SaveForm>) -> Response {
    let Act { cx, op, form } = act;
    let Ok(version) = form.version.trim().parse::<i64>() else {
        return refused(
            &cx,
            ConfigOpError::Invalid(domain::config::ConfigErrors::one(
                "version",
                "not a version number",
            )),
        )
        .await;
    };
    let plan = match ops_config::plan_rollback(cx.store.as_ref(), version).await {
        Ok(p) => p,
        Err(e) => return refused(&cx, e).await,
    };
    let reshow = |plan: &ConfigPlan, err: String| {
        confirm_page(
            &cx,
            plan,
            "/config/rollback",
            String::new(),
            version.to_string(),
            err,
        )
    };
    save(&p, &cx, &op, plan, &form, "/config/rollback", reshow).await
}
